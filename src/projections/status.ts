import type { EventStore, LogHoldback } from '../event-store/event-store.js';
import type { AnyProjection } from './define-projection.js';
import { table } from './generations.js';

export interface PartitionStatus {
  projection: string;
  generation: number;
  /** The code version that builds this generation. */
  version: number;
  /** `live` serves reads; `building` is a rebuild under way. */
  status: 'live' | 'building';
  partition: number;
  /** Checkpoint: the global position processed up to. */
  position: bigint;
  /** Events of the projection's types after the checkpoint, up to the head: the lag. */
  lag: number;
  /** Age of the oldest event not processed yet (null when caught up). */
  oldestUnprocessedAgeMs: number | null;
  /** Events per second over the owner's last seconds. */
  throughput: number;
  eventsProcessed: number;
  retries: number;
  deadLettered: number;
  owner: string | null;
  heartbeatAt: Date | null;
  leaseExpiresAt: Date | null;
  /** Why the partition stopped (onFailure: 'stop'), or null. */
  stoppedError: string | null;
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

interface Row {
  projection: string;
  generation: number;
  version: number;
  status: 'live' | 'building';
  started_from: string | bigint;
  partition: number;
  position: string | bigint;
  owner: string | null;
  heartbeat_at: Date | null;
  lease_expires_at: Date | null;
  events_processed: string | bigint;
  retries: string | bigint;
  dead_lettered: string | bigint;
  throughput: number;
  stopped_error: string | null;
  lag: string | bigint;
  oldest: Date | null;
}

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
    // Every event a reader can see is at or below the head; nothing between it and the
    // visibility bound is visible, so `<= head` counts what a worker has still to read.
    const head = await tx.headPosition();
    const partitions: PartitionStatus[] = [];
    const summaries: ProjectionStatus['projections'] = [];
    for (const projection of projections) {
      const categories = projection.categories ? [...projection.categories] : null;
      const rows = await tx.query<Row>(
        `SELECT g.projection, g.generation, g.version, g.status, g.started_from, p.partition, p.position, p.owner,
                p.heartbeat_at, p.lease_expires_at, p.events_processed, p.retries, p.dead_lettered, p.throughput,
                p.stopped_error,
                (SELECT count(*) FROM ${table(tx.schema, 'events')} e
                  WHERE e.global_position > p.position AND e.global_position <= $2::bigint
                    AND e.type = ANY($3::text[]) AND ($4::text[] IS NULL OR e.category = ANY($4::text[]))) AS lag,
                (SELECT e.recorded_at FROM ${table(tx.schema, 'events')} e
                  WHERE e.global_position > p.position AND e.global_position <= $2::bigint
                    AND e.type = ANY($3::text[]) AND ($4::text[] IS NULL OR e.category = ANY($4::text[]))
                  ORDER BY e.global_position LIMIT 1) AS oldest
           FROM ${table(tx.schema, 'projection_generations')} g
           JOIN ${table(tx.schema, 'consumer_partitions')} p ON p.consumer = g.projection AND p.generation = g.generation
          WHERE g.projection = $1 AND g.status <> 'retired'
          ORDER BY g.generation, p.partition`,
        [projection.name, head.toString(), [...projection.eventTypes], categories],
      );
      // A rebuild's events to process in all: the same for each of its partitions, and a
      // count over what may be the whole log, so counted once per generation.
      const totals = new Map<number, number>();
      for (const row of rows) {
        if (row.status !== 'building' || totals.has(row.generation)) continue;
        const [counted] = await tx.query<{ total: string | bigint }>(
          `SELECT count(*) AS total FROM ${table(tx.schema, 'events')} e
            WHERE e.global_position > $1::bigint AND e.global_position <= $2::bigint
              AND e.type = ANY($3::text[]) AND ($4::text[] IS NULL OR e.category = ANY($4::text[]))`,
          [row.started_from.toString(), head.toString(), [...projection.eventTypes], categories],
        );
        totals.set(row.generation, Number(counted?.total ?? 0));
      }
      for (const row of rows) {
        const lag = Number(row.lag);
        const total = totals.get(row.generation) ?? null;
        partitions.push({
          projection: row.projection,
          generation: row.generation,
          version: row.version,
          status: row.status,
          partition: row.partition,
          position: BigInt(row.position),
          lag,
          oldestUnprocessedAgeMs: row.oldest === null ? null : Math.max(0, Date.now() - new Date(row.oldest).getTime()),
          throughput: row.throughput,
          eventsProcessed: Number(row.events_processed),
          retries: Number(row.retries),
          deadLettered: Number(row.dead_lettered),
          owner: row.owner,
          heartbeatAt: row.heartbeat_at,
          leaseExpiresAt: row.lease_expires_at,
          stoppedError: row.stopped_error,
          rebuildProgress: total === null ? null : total === 0 ? 1 : Math.min(1, Math.max(0, 1 - lag / total)),
        });
      }
      const [dead] = await tx.query<{ pending: number }>(
        `SELECT count(*)::int AS pending FROM ${table(tx.schema, 'consumer_dead_letters')} WHERE consumer = $1 AND status = 'pending'`,
        [projection.name],
      );
      const live = rows.filter((row) => row.status === 'live').map((row) => Number(row.events_processed));
      const mean = live.reduce((a, b) => a + b, 0) / Math.max(1, live.length);
      // A worker heartbeats every third of its lease (5 s by default); one not seen for a
      // minute is gone, whatever lease it ran with.
      const idle = await tx.query<{ worker_id: string; version: number }>(
        `SELECT w.worker_id, (w.versions ->> $1)::integer AS version FROM ${table(tx.schema, 'consumer_workers')} w
          WHERE $1 = ANY(w.consumers) AND w.heartbeat_at > now() - interval '1 minute'
            AND NOT EXISTS (SELECT 1 FROM ${table(tx.schema, 'projection_generations')} g
                             WHERE g.projection = $1 AND g.status IN ('live', 'building')
                               AND g.version = (w.versions ->> $1)::integer)
          ORDER BY w.worker_id`,
        [projection.name],
      );
      summaries.push({
        name: projection.name,
        pendingDeadLetters: dead?.pending ?? 0,
        skew: live.length > 1 && mean > 0 ? Math.max(...live) / mean : null,
        idleWorkers: idle.map((row) => ({ workerId: row.worker_id, version: row.version })),
      });
    }
    return { head, partitions, projections: summaries, logHeldBackBy };
  });
}
