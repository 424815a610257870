import type { EventStore, EventStoreTransaction, RecordedEvent } from '../event-store/event-store.js';
import { categoryOf } from '../event-store/stream-name.js';
import { EventSchemaError } from '../errors.js';
import type { AnyProjectedEvent, AnyProjection } from './define-projection.js';
import { applyInLogOrder } from './apply-in-log-order.js';
import { describe } from '../consumers/failures.js';
import { lockProjection, table } from './generations.js';
import { recordDeadLetter } from '../consumers/dead-letters.js';
import { projectionContext } from './projection-context.js';

/**
 * What an inline projection's live generation still has to apply (issue 10).
 *
 * An inline append applies a projection only when the appending code's version is the
 * live generation's: code of another version (a rolling deploy, a rollback) would write
 * its own schema and meaning into tables it did not create. It records the events in
 * `projection_inline_pending` instead (migrations/0008), in the append's transaction,
 * and code of the live version applies them, fresh (that code never saw them):
 *
 * - the next inline append of that code to the same stream, before its own events. It
 *   holds the stream's row lock (the append statement updates the row), so every
 *   earlier append to the stream has committed and its rows are visible;
 * - the workers' sweep, applyPendingInline, which takes the stream's row lock itself
 *   (skipping streams being appended to), so a stream's events are applied in order by
 *   one transaction at a time, whoever applies them.
 *
 * Builds never get these rows: workers fill a building generation from the log. At the
 * switch, the rows of the retired generation are deleted (forgetOwed); the build applied
 * those events as fresh (owedByLive), since the old code never did.
 */

/** The live generation of a projection: its number, the version of the code that writes it, its schema. */
export interface LiveGeneration {
  generation: number;
  version: number;
  schemaName: string;
}

export async function readLive(tx: EventStoreTransaction, projection: string): Promise<LiveGeneration | undefined> {
  const [row] = await tx.query<{ generation: number; version: number; schema_name: string }>(
    `SELECT generation, version, schema_name FROM ${table(tx.schema, 'projection_generations')} WHERE projection = $1 AND status = 'live'`,
    [projection],
  );
  return row && { generation: row.generation, version: row.version, schemaName: row.schema_name };
}

/**
 * Records, in the appender's transaction, that `generation` owes those of `events` (this
 * transaction's own, as it read them back) it handles: by its own types and categories
 * (projection_generations), which the appending code, of another version, does not know.
 */
export async function recordOwed(
  tx: EventStoreTransaction,
  projection: string,
  generation: number,
  events: readonly Pick<RecordedEvent, 'globalPosition' | 'streamId' | 'type'>[],
): Promise<void> {
  if (events.length === 0) return;
  await tx.query(
    `INSERT INTO ${table(tx.schema, 'projection_inline_pending')} (projection, generation, global_position, stream_id)
     SELECT g.projection, g.generation, e.global_position, e.stream_id
       FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[]) AS e(global_position, stream_id, type, category)
       JOIN ${table(tx.schema, 'projection_generations')} g ON g.projection = $1 AND g.generation = $2
      WHERE (g.event_types IS NULL OR e.type = ANY(g.event_types))
        AND (g.categories IS NULL OR e.category = ANY(g.categories))
     ON CONFLICT DO NOTHING`,
    [
      projection,
      generation,
      events.map((e) => e.globalPosition.toString()),
      events.map((e) => e.streamId),
      events.map((e) => e.type),
      events.map((e) => categoryOf(e.streamId)),
    ],
  );
}

/**
 * For an inline append to `streamId`: the live generation, and when it is of this code's
 * version, what it owes of the stream, taken off the table (one statement when nothing is
 * owed, the usual case: this is the append's path). The caller appended to the stream, so
 * holds its row lock: every earlier append to it has committed, and no sweep holds its
 * rows.
 */
export async function takeOwedOfStream(
  tx: EventStoreTransaction,
  projection: AnyProjection,
  streamId: string,
): Promise<{ live: LiveGeneration | undefined; owed: AnyProjectedEvent[] }> {
  const rows = await tx.query<{ generation: number; version: number; schema_name: string; global_position: string | bigint | null }>(
    `WITH live AS (
       SELECT generation, version, schema_name FROM ${table(tx.schema, 'projection_generations')} WHERE projection = $1 AND status = 'live'),
     owed AS (
       DELETE FROM ${table(tx.schema, 'projection_inline_pending')} p USING live
        WHERE p.projection = $1 AND p.generation = live.generation AND live.version = $2 AND p.stream_id = $3
       RETURNING p.global_position)
     SELECT live.generation, live.version, live.schema_name, owed.global_position
       FROM live LEFT JOIN owed ON true`,
    [projection.name, projection.version, streamId],
  );
  const [first] = rows;
  if (!first) return { live: undefined, owed: [] };
  const live = { generation: first.generation, version: first.version, schemaName: first.schema_name };
  const positions = rows.flatMap((row) => (row.global_position === null ? [] : [BigInt(row.global_position)]));
  return { live, owed: await decodeOrDeadLetter(tx, projection, live.generation, await owedEvents(tx, positions)) };
}

/**
 * The events at `positions`, owed by a live generation, in log order. Each row of what is
 * owed was written by the transaction that appended its event, so an event whose row this
 * transaction sees has committed and is here too: readEventsAt is a lookup, not bounded
 * by what readers of the log can see yet, and must not be (an event that committed while
 * an older appender is still open would be deleted from what is owed, and never applied).
 */
async function owedEvents(tx: EventStoreTransaction, positions: readonly bigint[]): Promise<RecordedEvent[]> {
  return positions.length === 0 ? [] : tx.readEventsAt(positions);
}

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
 * Called by the workers of inline projections on each membership round.
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
      const owed = await tx.query<{ global_position: string | bigint }>(
        `SELECT global_position FROM ${table(tx.schema, 'projection_inline_pending')}
          WHERE projection = $1 AND generation = $2 AND stream_id = ANY($3::text[])
          ORDER BY global_position LIMIT $4`,
        [projection.name, live.generation, locked.map((row) => row.stream_id), options.limit],
      );
      const rows = await owedEvents(tx, owed.map((row) => BigInt(row.global_position)));
      const events = await decodeOrDeadLetter(tx, projection, live.generation, rows);
      const context = await projectionContext(tx, live.schemaName, { replaying: false, generation: live.generation, partition: 0 });
      await applyInLogOrder(projection, events, () => false, context);
      await tx.query(
        `DELETE FROM ${table(tx.schema, 'projection_inline_pending')} WHERE projection = $1 AND generation = $2 AND global_position = ANY($3::bigint[])`,
        [projection.name, live.generation, rows.map((row) => row.globalPosition.toString())],
      );
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
  const rows = await tx.query<{ stream_id: string }>(
    `SELECT p.stream_id FROM ${table(tx.schema, 'projection_inline_pending')} p
       JOIN ${table(tx.schema, 'projection_generations')} g USING (projection, generation)
      WHERE p.projection = $1 AND g.status = 'live' AND NOT (p.stream_id = ANY($3::text[]))
      ORDER BY p.global_position LIMIT $2`,
    [projection.name, limit, skip],
  );
  return { streams: [...new Set(rows.map((row) => row.stream_id))], full: rows.length === limit };
}

/**
 * The events of `rows` in this code's shape. One this code cannot read (a schema version
 * newer than it knows: the other version's code wrote it) is dead-lettered, like a
 * worker does, rather than failing every later append to its stream: stored events never
 * change, so no retry would help. retryDeadLetter applies it once the code can read it.
 */
async function decodeOrDeadLetter(
  tx: EventStoreTransaction,
  projection: AnyProjection,
  generation: number,
  recorded: readonly RecordedEvent[],
): Promise<AnyProjectedEvent[]> {
  const events: AnyProjectedEvent[] = [];
  for (const event of recorded) {
    try {
      events.push(projection.decode(event) as AnyProjectedEvent);
    } catch (error) {
      if (!(error instanceof EventSchemaError)) throw error;
      await recordDeadLetter(tx, { consumer: projection.name, generation, partition: 0 }, {
        globalPosition: event.globalPosition,
        id: event.id,
        streamId: event.streamId,
        version: event.version,
        type: event.type,
        message: describe(error),
        stack: error.stack ?? null,
        attempts: 1,
      });
    }
  }
  return events;
}

/**
 * Of `positions` (events a batch of an inline projection's build is about to apply), those
 * the live generation still owes: its code never applied them, so the build applies them
 * as fresh (`replaying: false`), and the rest as history. Call it holding the
 * projection's lock shared, so the live generation cannot be switched away meanwhile.
 * An owed event the old code applies after the build read it is then handled fresh by
 * both: a duplicate side effect is possible, a lost one is not. Undefined when there is
 * no live generation (the first build: appends skip it, so history is what the log held
 * when it was created, `replay_until`).
 */
export async function owedByLive(tx: EventStoreTransaction, projection: string, positions: readonly bigint[]): Promise<Set<bigint> | undefined> {
  const rows = await tx.query<{ global_position: string | bigint | null }>(
    `SELECT p.global_position
       FROM ${table(tx.schema, 'projection_generations')} g
       LEFT JOIN ${table(tx.schema, 'projection_inline_pending')} p
         ON p.projection = g.projection AND p.generation = g.generation AND p.global_position = ANY($2::bigint[])
      WHERE g.projection = $1 AND g.status = 'live'`,
    [projection, positions.map(String)],
  );
  if (rows.length === 0) return undefined;
  return new Set(rows.filter((row) => row.global_position !== null).map((row) => BigInt(row.global_position!)));
}

/** Deletes what a generation being retired still owes; returns how many events that was. */
export async function forgetOwed(tx: EventStoreTransaction, projection: string, generation: number): Promise<number> {
  const rows = await tx.query(
    `DELETE FROM ${table(tx.schema, 'projection_inline_pending')} WHERE projection = $1 AND generation = $2 RETURNING 1`,
    [projection, generation],
  );
  return rows.length;
}
