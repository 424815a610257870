import { CheckpointNotifier } from '../consumers/checkpoint-notifier.js';
import type { EventStore, EventStoreTransaction } from '../event-store/event-store.js';
import { applyInLogOrder } from './apply-in-log-order.js';
import type { AnyProjection } from './define-projection.js';
import { lockProjection, table } from './generations.js';
import { markAppliedInline } from './inline-marks.js';
import { decodeOrDeadLetter, owedEvents, readLive } from './inline-pending.js';
import { projectionContext } from './projection-context.js';
import { projectionTables } from './projection-tables.js';

/**
 * The workers' sweep of what inline projections' live generations owe (inline-pending.ts
 * says what is owed and why): applies it in log order, stream by stream under the
 * stream's row lock, so that it never races the stream's own appenders.
 */

/**
 * Applies what the live generation of `projection` owes, when it is of this code's
 * version (else returns 0 at once: that is another version's work), in batches of
 * `batchSize` events in log order, each batch with the deletion of its rows in one
 * transaction. Streams being appended to are left for the next call (or for their
 * appender, which applies them first). When a handler fails, the batch is applied again
 * stream by stream, so one failing stream holds up no other; the first such failure is
 * thrown once the rest is applied, and the failing stream stays owed. An event this code
 * cannot decode is dead-lettered, as a worker would.
 *
 * Called by the workers of inline projections on each membership round: it also marks
 * the generations of this version as applied inline, and notifies the store's listeners
 * when it applied something (subscriptions push the rows it changed).
 *
 * @returns how many events were applied (or dead-lettered).
 * @example
 * ```ts
 * const applied = await applyPendingInline(store, accountBalances);
 * ```
 */
export async function applyPendingInline(
  store: EventStore,
  projection: AnyProjection,
  options: { batchSize?: number; maxBatches?: number } = {},
): Promise<number> {
  const limit = options.batchSize ?? 500;
  // Each round, so a generation created after the appenders set up (a rebuild started by
  // hand) is known to be applied inline once it is switched to (inline-marks.ts).
  await markAppliedInline(store, projection);
  const failing = new Map<string, unknown>();
  let applied = 0;
  for (let batch = 0; batch < (options.maxBatches ?? 20); batch++) {
    const skip = [...failing.keys()];
    let result: SweepResult;
    try {
      result = await sweep(store, projection, { limit, skip });
    } catch {
      // Stream by stream: the streams that apply commit, a failing one stays owed.
      const { streams, full } = await store.withTransaction((tx) => owingStreams(tx, projection, limit, skip), { appends: false });
      result = { applied: 0, more: full };
      for (const streamId of streams) {
        try {
          result.applied += (await sweep(store, projection, { limit, skip: [], only: streamId })).applied;
        } catch (error) {
          failing.set(streamId, error);
        }
      }
    }
    applied += result.applied;
    if (!result.more || result.applied === 0) break;
  }
  if (applied > 0) {
    // Rows changed without an append: subscribers of the projection (whose feed follows
    // what is owed) look again now rather than at their next poll.
    const notifier = new CheckpointNotifier(store);
    notifier.notify();
    await notifier.settle();
  }
  const [failure] = failing.values();
  if (failure !== undefined) throw failure;
  return applied;
}

interface SweepResult {
  /** Events applied (or dead-lettered). */
  applied: number;
  /** Whether more rows may be owed beyond this batch. */
  more: boolean;
}

/** One batch of applyPendingInline, in one transaction. */
async function sweep(store: EventStore, projection: AnyProjection, options: { limit: number; skip: string[]; only?: string }): Promise<SweepResult> {
  return store.withTransaction(
    async (tx) => {
      // Shared, like an appender: a switch (exclusive) sees every row this deletes, or none.
      await lockProjection(tx, projection.name, 'shared');
      const live = await readLive(tx, projection.name);
      if (!live || live.version !== projection.version) return { applied: 0, more: false };
      const { streams: candidates, full } = options.only
        ? { streams: [options.only], full: false }
        : await owingStreams(tx, projection, options.limit, options.skip);
      if (candidates.length === 0) return { applied: 0, more: false };
      // The stream's row lock orders this with the stream's appenders: an appender holds it
      // from its append to its commit, and applies what the stream owes first. Streams an
      // appender (or another sweep) holds are skipped, never waited for.
      const locked = await tx.query<{ stream_id: string }>(
        `SELECT stream_id FROM ${table(tx.schema, 'streams')} WHERE stream_id = ANY($1::text[]) FOR NO KEY UPDATE SKIP LOCKED`,
        [candidates],
      );
      if (locked.length === 0) return { applied: 0, more: false };
      // A prefix of each stream's rows in log order: what is left stays owed, behind it.
      const owed = await projectionTables(tx)
        .selectFrom('projection_inline_pending')
        .select('global_position')
        .where('projection', '=', projection.name)
        .where('generation', '=', live.generation)
        .where('stream_id', 'in', locked.map((row) => row.stream_id))
        .orderBy('global_position')
        .limit(options.limit)
        .execute();
      const rows = await owedEvents(tx, owed.map((row) => BigInt(row.global_position)));
      const events = await decodeOrDeadLetter(tx, projection, live.generation, rows);
      const context = await projectionContext(tx, live.schemaName, { replaying: false, generation: live.generation, partition: 0 });
      await applyInLogOrder(projection, events, () => false, context);
      if (rows.length > 0) {
        await projectionTables(tx)
          .deleteFrom('projection_inline_pending')
          .where('projection', '=', projection.name)
          .where('generation', '=', live.generation)
          .where('global_position', 'in', rows.map((row) => row.globalPosition.toString()))
          .execute();
      }
      return { applied: rows.length, more: full || rows.length === options.limit };
    },
    { appends: false },
  );
}

/**
 * The streams of the first `limit` rows the live generation owes, oldest first, but
 * those in `skip`; `full` when there were that many rows.
 */
async function owingStreams(
  tx: EventStoreTransaction,
  projection: AnyProjection,
  limit: number,
  skip: readonly string[],
): Promise<{ streams: string[]; full: boolean }> {
  const rows = await projectionTables(tx)
    .selectFrom('projection_inline_pending as p')
    .innerJoin('projection_generations as g', (join) => join.onRef('g.projection', '=', 'p.projection').onRef('g.generation', '=', 'p.generation'))
    .select('p.stream_id')
    .where('p.projection', '=', projection.name)
    .where('g.status', '=', 'live')
    .$if(skip.length > 0, (q) => q.where('p.stream_id', 'not in', [...skip]))
    .orderBy('p.global_position')
    .limit(limit)
    .execute();
  return { streams: [...new Set(rows.map((row) => row.stream_id))], full: rows.length === limit };
}
