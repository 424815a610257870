import { advanceCheckpoints, readCheckpoints } from '../consumers/partitions.js';
import type { EventStoreTransaction } from '../event-store/event-store.js';
import type { AnyProjectedEvent, AnyProjection } from './define-projection.js';
import { applyInLogOrder } from './apply-in-log-order.js';
import type { Generation } from './generations.js';
import { owedByLive } from './inline-pending.js';
import { projectionContext } from './projection-context.js';

/**
 * The last step of a rebuild, in the switch's transaction, under the projection's lock
 * taken exclusively (rebuild.ts): what the build still lacks of what readers could see
 * in the live generation, applied so that the switch moves no key back.
 */

/**
 * A worker-built projection: the build's `caught_up` flags can be a poll old, and the
 * live partitions stand at different checkpoints, so a build partition may be behind the
 * live partition of the same keys. Brings every build partition up to the furthest live
 * checkpoint. Every event at or below a checkpoint a worker reached is committed and
 * visible (a worker's batch only moves past what the log's bound lets it see,
 * docs/global-log.md), so reading the log up to there misses nothing, with or without
 * the bound; nothing beyond it is read, since an appender may still commit below what
 * lies there.
 * History, as for the build's own batches, is what every live partition had processed
 * (the lowest live checkpoint); beyond it an event is fresh (a duplicate side effect is
 * possible there, a lost one is not).
 */
export async function drainToLive(tx: EventStoreTransaction, { projection, building, live, checkpoints }: SwitchDrain & { live: Generation }): Promise<void> {
  // Locked shared: the live generation's workers' fences wait for the switch to commit,
  // so the live checkpoints cannot move past what the drain reads.
  const liveCheckpoints = (await readCheckpoints(tx, { consumer: live.projection, generation: live.generation }, 'share')).map((p) => p.position);
  if (liveCheckpoints.length === 0) return;
  const target = liveCheckpoints.reduce((a, b) => (a > b ? a : b));
  const history = liveCheckpoints.reduce((a, b) => (a < b ? a : b));
  await drain(tx, { projection, building, checkpoints }, { until: target, historyOf: async () => (event) => event.globalPosition <= history });
}

/**
 * An inline projection: applies everything the log holds beyond the build's checkpoints.
 * Read without the log's visibility bound on purpose (readAllCommitted): under the
 * exclusive lock no appender that applies inline is in flight, so nothing can appear
 * later below what this reads, while an event such an appender committed can still be
 * above the bound (another appender of the store, still open, holds readers back): the
 * old generation has it, and a bounded read would leave it out of the new one for good. History is what the live generation applied: everything but what it still owes
 * (code of another version appended it); with no live generation (the first build),
 * what the log held when the build was created.
 */
export async function drainInline(tx: EventStoreTransaction, { projection, building, live, checkpoints }: SwitchDrain): Promise<void> {
  await drain(tx, { projection, building, checkpoints }, {
    until: undefined,
    historyOf: async (events) => {
      const owed = live ? await owedByLive(tx, projection.name, events.map((event) => event.globalPosition)) : undefined;
      return owed ? (event) => !owed.has(event.globalPosition) : (event) => event.globalPosition <= building.replayUntil;
    },
  });
}

/** What a switch drains: the build into `building`, past its partitions' `checkpoints`, beside the `live` generation (if any). */
export interface SwitchDrain {
  projection: AnyProjection;
  building: Generation;
  live: Generation | undefined;
  /** The build's checkpoints by partition, locked by the switch. */
  checkpoints: ReadonlyMap<number, bigint>;
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
  { projection, building, checkpoints }: Omit<SwitchDrain, 'live'>,
  options: { until: bigint | undefined; historyOf: HistoryOf },
): Promise<void> {
  const pageSize = 1000;
  let after = [...checkpoints.values()].reduce((a, b) => (a < b ? a : b));
  if (options.until !== undefined && after >= options.until) return;
  const context = await projectionContext(tx, building.schemaName, { replaying: true, generation: building.generation, partition: 0 });
  const filter = {
    types: [...projection.eventTypes],
    ...(projection.categories ? { categories: [...projection.categories] } : {}),
    ...(options.until !== undefined ? { until: options.until } : {}),
  };
  for (;;) {
    // Every committed event, not only those readers can see (readAllCommitted): see
    // drainToLive and drainInline for why nothing can still commit below what it returns.
    const rows = await tx.readAllCommitted({ ...filter, after, limit: pageSize });
    if (rows.length === 0) break;
    const events = rows.map((row) => projection.decode(row) as AnyProjectedEvent);
    const missing = events.filter((event) => event.globalPosition > (checkpoints.get(projection.partitionOf(event)) ?? 0n));
    if (missing.length > 0) await applyInLogOrder(projection, missing, await options.historyOf(missing), context);
    after = events.at(-1)!.globalPosition;
    if (rows.length < pageSize) break;
  }
  await advanceCheckpoints(tx, { consumer: projection.name, generation: building.generation }, options.until ?? after);
}
