import type { EventStoreTransaction } from '../event-store/event-store.js';
import { toRecordedEvent, type EventRow } from '../event-store/postgres/read-statements.js';
import type { AnyProjectedEvent, AnyProjection } from './define-projection.js';
import { applyInLogOrder } from './apply-in-log-order.js';
import { table, type Generation } from './generations.js';
import { owedByLive } from './inline-pending.js';
import { projectionContext } from './projection-context.js';

/**
 * The last step of a rebuild, in the switch's transaction, under the projection's lock
 * taken exclusively (rebuild.ts): what the build still lacks of what readers could see
 * in the live generation, applied so that the switch moves no key back.
 */

export interface PartitionCheckpoint {
  partition: number;
  position: bigint;
  caughtUp: boolean;
}

/**
 * A generation's checkpoints, row-locked: `update` fences the build's batches (one that
 * commits first is seen, one that commits later finds its checkpoint moved), `share`
 * holds the live generation's workers' fences until the switch commits, so the live
 * checkpoints cannot move past what the drain reads.
 */
export async function lockPartitions(tx: EventStoreTransaction, generation: Generation, mode: 'update' | 'share'): Promise<PartitionCheckpoint[]> {
  const rows = await tx.query<{ partition: number; position: string | bigint; caught_up: boolean }>(
    `SELECT partition, position, caught_up FROM ${table(tx.schema, 'consumer_partitions')}
      WHERE consumer = $1 AND generation = $2 ORDER BY partition FOR ${mode === 'update' ? 'UPDATE' : 'SHARE'}`,
    [generation.projection, generation.generation],
  );
  return rows.map((row) => ({ partition: row.partition, position: BigInt(row.position), caughtUp: row.caught_up }));
}

/**
 * A worker-built projection: the build's `caught_up` flags can be a poll old, and the
 * live partitions stand at different checkpoints, so a build partition may be behind the
 * live partition of the same keys. Brings every build partition up to the furthest live
 * checkpoint. Every event at or below a checkpoint a worker reached is committed and
 * visible (a worker's batch only moves past what the log's bound lets it see,
 * docs/global-log.md), so reading the events table up to there misses nothing; nothing
 * beyond it is read, since an appender may still commit below what lies there.
 * History, as for the build's own batches, is what every live partition had processed
 * (the lowest live checkpoint); beyond it an event is fresh (a duplicate side effect is
 * possible there, a lost one is not).
 */
export async function drainToLive(
  tx: EventStoreTransaction,
  projection: AnyProjection,
  building: Generation,
  live: Generation,
  checkpoints: ReadonlyMap<number, bigint>,
): Promise<void> {
  const liveCheckpoints = (await lockPartitions(tx, live, 'share')).map((p) => p.position);
  if (liveCheckpoints.length === 0) return;
  const target = liveCheckpoints.reduce((a, b) => (a > b ? a : b));
  const history = liveCheckpoints.reduce((a, b) => (a < b ? a : b));
  await drain(tx, projection, building, checkpoints, { until: target, historyOf: async () => (event) => event.globalPosition <= history });
}

/**
 * An inline projection: applies everything the log holds beyond the build's checkpoints.
 * Read without the log's visibility bound on purpose: under the exclusive lock no
 * appender that applies inline is in flight, so nothing can appear later below what this
 * reads. History is what the live generation applied: everything but what it still owes
 * (code of another version appended it); with no live generation (the first build),
 * what the log held when the build was created.
 */
export async function drainInline(
  tx: EventStoreTransaction,
  projection: AnyProjection,
  building: Generation,
  live: Generation | undefined,
  checkpoints: ReadonlyMap<number, bigint>,
): Promise<void> {
  await drain(tx, projection, building, checkpoints, {
    until: undefined,
    historyOf: async (events) => {
      const owed = live ? await owedByLive(tx, projection.name, events.map((event) => event.globalPosition)) : undefined;
      return owed ? (event) => !owed.has(event.globalPosition) : (event) => event.globalPosition <= building.replayUntil;
    },
  });
}

/** Which of a page's events are history: found per page (for an inline build, in the table of what the live generation owes). */
type HistoryOf = (events: readonly AnyProjectedEvent[]) => Promise<(event: AnyProjectedEvent) => boolean>;

/**
 * Applies, page by page, each partition's events after that partition's own checkpoint
 * (partitions stop at different positions, and an event at or below its partition's
 * checkpoint is already in the new tables), up to `until` (or the end of the log), then
 * moves every checkpoint there.
 */
async function drain(
  tx: EventStoreTransaction,
  projection: AnyProjection,
  building: Generation,
  checkpoints: ReadonlyMap<number, bigint>,
  options: { until: bigint | undefined; historyOf: HistoryOf },
): Promise<void> {
  const pageSize = 1000;
  let after = [...checkpoints.values()].reduce((a, b) => (a < b ? a : b));
  if (options.until !== undefined && after >= options.until) return;
  const context = await projectionContext(tx, building.schemaName, { replaying: true, generation: building.generation, partition: 0 });
  for (;;) {
    const parameters: unknown[] = [after.toString(), projection.eventTypes, options.until?.toString() ?? null];
    if (projection.categories) parameters.push(projection.categories);
    const rows = await tx.query<EventRow>(
      `SELECT global_position, stream_id, stream_version, event_id, type, schema_version, data, metadata, recorded_at
         FROM ${table(tx.schema, 'events')}
        WHERE global_position > $1 AND type = ANY($2::text[]) AND ($3::bigint IS NULL OR global_position <= $3)
          ${projection.categories ? 'AND category = ANY($4::text[])' : ''}
        ORDER BY global_position LIMIT ${pageSize}`,
      parameters,
    );
    if (rows.length === 0) break;
    const events = rows.map((row) => projection.decode(toRecordedEvent(row)) as AnyProjectedEvent);
    const missing = events.filter((event) => event.globalPosition > (checkpoints.get(projection.partitionOf(event)) ?? 0n));
    if (missing.length > 0) await applyInLogOrder(projection, missing, await options.historyOf(missing), context);
    after = events.at(-1)!.globalPosition;
    if (rows.length < pageSize) break;
  }
  const to = options.until ?? after;
  await tx.query(
    `UPDATE ${table(tx.schema, 'consumer_partitions')} SET position = greatest(position, $3), updated_at = now()
      WHERE consumer = $1 AND generation = $2`,
    [projection.name, building.generation, to.toString()],
  );
}
