import { partitionsByStream } from '../consumers/partition-key.js';
import type { EventStore, LogHoldback } from '../event-store/event-store.js';
import { countPendingDeadLetters } from '../consumers/dead-letters.js';
import { workersRunning } from '../consumers/leases.js';
import { readPartitions, type PartitionReport } from '../consumers/partitions.js';
import type { AnyProjection } from './define-projection.js';
import { readCurrentGenerations } from './generations.js';

/**
 * Where one partition of a projection's generation stands: the engine's figures
 * (checkpoint, throughput, retries, dead letters, owner, heartbeat, stop), and what only
 * a projection knows (its version and status, the lag in its events, a rebuild's progress).
 */
export interface PartitionStatus extends Omit<PartitionReport, 'consumer' | 'caughtUp'> {
  projection: string;
  /** The code version that builds this generation. */
  version: number;
  /** `live` serves reads; `building` is a rebuild under way. */
  status: 'live' | 'building';
  /** Events of the projection's types after the checkpoint, up to the head: the lag. */
  lag: number;
  /** Age of the oldest event not processed yet (null when caught up). */
  oldestUnprocessedAgeMs: number | null;
  /** For a rebuild: the share of its events processed, 0 to 1 (null when live). */
  rebuildProgress: number | null;
}

export interface ProjectionStatus {
  /** The global log's head: the newest position a reader can see. */
  head: bigint;
  partitions: PartitionStatus[];
  /** Per projection: pending dead letters, partition skew, and workers that run code with nothing to process. */
  projections: ProjectionSummary[];
  /**
   * The open transaction of this store that holds the log's readers back, when it has
   * been open for at least a second (`store.logHoldback()`, docs/global-log.md): while
   * it runs, `head` stays below its events and every projection waits. null otherwise.
   *
   * @example
   * ```ts
   * const { logHeldBackBy: by } = await projectionStatus(store, projections);
   * if (by) console.warn(`log held back ${by.ageMs} ms by pid ${by.pid} (${by.applicationName}): ${by.query}`);
   * ```
   */
  logHeldBackBy: LogHoldback | null;
}

export interface ProjectionSummary {
  name: string;
  pendingDeadLetters: number;
  /** Busiest live partition's events / mean (1 is even); null with one partition or none processed. */
  skew: number | null;
  /**
   * Live workers that run this projection at a version with no live or building
   * generation: code rolled back after a newer version switched (or autoRebuild off with
   * an older live one). They process nothing of it; if no worker of the live version
   * runs, its read model is frozen.
   */
  idleWorkers: { workerId: string; version: number }[];
}

/**
 * How long an appender's transaction must have been open before status reports it as
 * holding the log back: every append holds readers back for the few milliseconds it is
 * in flight, and naming those would flag ordinary traffic; a transaction open for a
 * second is a slow import or a session left idle in transaction.
 */
const logHoldbackReportedAfterMs = 1_000;

/**
 * Where every projection stands: per generation and partition, the checkpoint against
 * the head, the lag in events (counted: positions are sparse, so subtracting them says
 * nothing), the age of the oldest unprocessed event, throughput, retries, dead letters,
 * owner and heartbeat, and a rebuild's progress; and the session holding the log back,
 * if one has for a second or more.
 *
 * @example
 * ```ts
 * const { partitions } = await projectionStatus(store, [likeCounts]);
 * ```
 */
export async function projectionStatus(store: EventStore, projections: readonly AnyProjection[]): Promise<ProjectionStatus> {
  return store.withTransaction(async (tx) => {
    // Asked before anything else here, so the answer never depends on what this
    // transaction does: it only reads and never takes an id, and logHoldback leaves its
    // own session out by pid, but a transaction with an id would hold the log back itself.
    const holdback = await tx.logHoldback();
    const logHeldBackBy = holdback !== null && holdback.ageMs >= logHoldbackReportedAfterMs ? holdback : null;
    const head = await tx.headPosition();
    const partitions: PartitionStatus[] = [];
    const summaries: ProjectionStatus['projections'] = [];
    for (const projection of projections) {
      const filter = { types: [...projection.eventTypes], ...(projection.categories ? { categories: [...projection.categories] } : {}) };
      // Generations, then their partitions: a partition's checkpoint is at least as recent
      // as its generation's status (checkpoints only move forward).
      const generations = new Map((await readCurrentGenerations(tx, [projection.name])).map((g) => [g.generation, g]));
      const rows = await readPartitions(tx, [...generations.values()].map((g) => ({ consumer: g.projection, generation: g.generation })));
      // Counted up to the head (countEvents, bounded like readAll): every event a reader can
      // see is at or below it, and stays visible to this transaction's later statements
      // (the log's bound never moves back), so each count is of what a worker has still to
      // read. A rebuild's events to process in all: a count over what may be the whole
      // log, so counted once per generation (per partition when each counts its own).
      // A partition keyed by stream id (this code's generations without a partitionKey)
      // counts only its own events, Postgres telling the partition: its lag and its
      // rebuild's total are then its own. Other partitions count every partition's events.
      const own = (row: { partition: number }, generation: { version: number; partitions: number }) =>
        generation.version === projection.version && partitionsByStream(generation.partitions, projection.definition.partitionKey)
          ? { partition: { index: row.partition, count: generation.partitions } }
          : undefined;
      const totals = new Map<string, number>();
      const totalKey = (row: { generation: number; partition: number }, mine: boolean) => `${row.generation}/${mine ? row.partition : 'all'}`;
      for (const row of rows) {
        const generation = generations.get(row.generation)!;
        const mine = own(row, generation);
        if (generation.status !== 'building' || totals.has(totalKey(row, mine !== undefined))) continue;
        totals.set(totalKey(row, mine !== undefined), (await tx.countEvents({ ...filter, ...mine, after: generation.startedFrom, until: head })).count);
      }
      for (const row of rows) {
        const generation = generations.get(row.generation)!;
        const mine = own(row, generation);
        const { count: lag, oldestRecordedAt: oldest } = await tx.countEvents({ ...filter, ...mine, after: row.position, until: head });
        const total = totals.get(totalKey(row, mine !== undefined)) ?? null;
        const { consumer: _consumer, caughtUp: _caughtUp, ...figures } = row;
        partitions.push({
          projection: generation.projection,
          version: generation.version,
          status: generation.status as PartitionStatus['status'],
          ...figures,
          lag,
          oldestUnprocessedAgeMs: oldest === null ? null : Math.max(0, Date.now() - oldest.getTime()),
          rebuildProgress: total === null ? null : total === 0 ? 1 : Math.min(1, Math.max(0, 1 - lag / total)),
        });
      }
      const pendingDeadLetters = await countPendingDeadLetters(tx, projection.name);
      const live = rows.filter((row) => generations.get(row.generation)!.status === 'live').map((row) => row.eventsProcessed);
      const mean = live.reduce((a, b) => a + b, 0) / Math.max(1, live.length);
      // A worker heartbeats every third of its lease (5 s by default); one not seen for a
      // minute is gone, whatever lease it ran with.
      const versions = new Set([...generations.values()].map((g) => g.version));
      const idle = (await workersRunning(tx, projection.name, 60_000)).filter((worker) => worker.version === null || !versions.has(worker.version));
      summaries.push({
        name: projection.name,
        pendingDeadLetters,
        skew: live.length > 1 && mean > 0 ? Math.max(...live) / mean : null,
        idleWorkers: idle.map((worker) => ({ workerId: worker.workerId, version: worker.version as number })),
      });
    }
    return { head, partitions, projections: summaries, logHeldBackBy };
  });
}
