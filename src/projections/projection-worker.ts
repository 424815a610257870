import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import type { EventStore, EventStoreTransaction } from '../event-store/event-store.js';
import { parseInput } from '../event-store/validation.js';
import { EventSchemaError } from '../errors.js';
import { applyEvents } from './apply.js';
import { partitionOfKey, type AnyProjectedEvent, type AnyProjection } from './define-projection.js';
import { lockProjection, table } from './generations.js';
import { projectionContext } from './projection-context.js';
import { setupProjection, switchIfCaughtUp } from './rebuild.js';

/** What the runner reports; pino's logger fits (`logger: pino()`). */
export interface ProjectionLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface RunProjectionsOptions {
  /** This worker's name in leases and status (default: host, pid and a random suffix). */
  workerId?: string;
  /** Events read per batch while live (default 500). */
  batchSize?: number;
  /** Events read per batch while rebuilding (default 5,000). */
  replayBatchSize?: number;
  /** Longest wait for new events when no notification arrives (default 1,000 ms). */
  pollIntervalMs?: number;
  /**
   * How long a partition stays owned without a heartbeat (default 5,000 ms). When a
   * worker dies, another takes its partitions over within about this plus one
   * heartbeat (a third of it).
   */
  leaseTtlMs?: number;
  /** Retries of an event whose handler fails, with exponential backoff (default 5 attempts, 100 ms to 5 s). */
  retries?: { attempts?: number; minDelayMs?: number; maxDelayMs?: number };
  /** After the last attempt: dead-letter the event and go on (default), or stop the partition. */
  onFailure?: 'dead-letter' | 'stop';
  /** Rebuild on their own when the code's version is newer than the live one (default true). */
  autoRebuild?: boolean;
  /** Names of the projections that are applied inline (see withInlineProjections). */
  inline?: readonly string[];
  /** Where to report ownership changes, failures and switches (default: nowhere). */
  logger?: ProjectionLogger;
  /** Called after each committed batch, e.g. to draw a progress bar. */
  onBatch?: (batch: BatchReport) => void;
}

export interface BatchReport {
  projection: string;
  generation: number;
  partition: number;
  replaying: boolean;
  events: number;
  position: bigint;
  caughtUp: boolean;
}

export interface ProjectionRunner {
  readonly workerId: string;
  /** Resolves once the runner has registered and set its projections up. */
  readonly ready: Promise<void>;
  /** Finishes (or rolls back) the batches in flight, releases ownership, stops. */
  stop(): Promise<void>;
}

const optionsSchema = z
  .object({
    workerId: z.string().min(1).max(200).optional(),
    batchSize: z.number().int().min(1).max(100_000).optional(),
    replayBatchSize: z.number().int().min(1).max(100_000).optional(),
    pollIntervalMs: z.number().int().min(10).max(600_000).optional(),
    leaseTtlMs: z.number().int().min(300).max(600_000).optional(),
    retries: z
      .object({
        attempts: z.number().int().min(1).max(100).optional(),
        minDelayMs: z.number().min(0).optional(),
        maxDelayMs: z.number().min(0).optional(),
      })
      .optional(),
    onFailure: z.enum(['dead-letter', 'stop']).optional(),
    autoRebuild: z.boolean().optional(),
    inline: z.array(z.string()).optional(),
    logger: z.unknown().optional(),
    onBatch: z.unknown().optional(),
  })
  .optional();

const silent: ProjectionLogger = { info() {}, warn() {}, error() {} };

interface Unit {
  projection: AnyProjection;
  generation: number;
  partition: number;
  schemaName: string;
  /** The generation is a rebuild not yet switched to (as of the last batch). */
  building: boolean;
  /** Set when the lease was lost or the generation retired: the loop ends without releasing. */
  lost: boolean;
  /** Set when this worker holds more than its share: the loop ends and releases. */
  release: boolean;
  recent: { at: number; events: number }[];
}

type BatchOutcome =
  | { kind: 'done'; events: number; position: bigint; caughtUp: boolean; replaying: boolean; building: boolean }
  | { kind: 'lost' }
  /** An inline projection's live generation: written by the appenders, never by a worker. */
  | { kind: 'release' }
  | { kind: 'failed'; error: unknown; from: bigint; failedEvent: AnyProjectedEvent | undefined; limit: number };

class LostOwnership extends Error {}

/** Marks `unit` lost or to be released for those outcomes: true when its loop is over. */
function ends(unit: Unit, outcome: BatchOutcome): outcome is Extract<BatchOutcome, { kind: 'lost' | 'release' }> {
  if (outcome.kind === 'lost') unit.lost = true;
  else if (outcome.kind === 'release') unit.release = true;
  else return false;
  return true;
}

class HandlerFailure extends Error {
  constructor(
    readonly failure: unknown,
    readonly event: AnyProjectedEvent | undefined,
    /** The checkpoint the failed batch started from, and its size. */
    readonly from: bigint,
    readonly limit: number,
  ) {
    super('projection handler failed');
  }
}

const keyOf = (projection: string, generation: number, partition: number) => `${projection}\u0000${generation}\u0000${partition}`;

/**
 * Runs projection workers in this process: claims a fair share of the projections'
 * partitions (leases in Postgres, shared with the other processes running them), and
 * for each one reads the global log from its checkpoint in batches, applies the
 * handlers and moves the checkpoint in the same transaction. New events wake it through
 * LISTEN/NOTIFY, with polling as a fallback. Generations being rebuilt are processed
 * the same way, in larger batches, and switched to when they have caught up.
 *
 * @example
 * ```ts
 * const runner = runProjections(store, [likeCounts, userLikes], { logger: pino() });
 * process.on('SIGTERM', () => runner.stop());
 * ```
 */
export function runProjections(store: EventStore, projections: readonly AnyProjection[], options: RunProjectionsOptions = {}): ProjectionRunner {
  const checked = parseInput(optionsSchema, options, 'options') ?? {};
  const names = new Set<string>();
  for (const [index, projection] of projections.entries()) {
    if (names.has(projection.name)) {
      parseInput(z.never({ error: `'${projection.name}' is given twice` }), projection.name, `projections[${index}].name`);
    }
    names.add(projection.name);
  }
  return new Runner(store, projections, { ...options, ...checked } as RunProjectionsOptions);
}

class Runner implements ProjectionRunner {
  readonly workerId: string;
  readonly ready: Promise<void>;
  readonly #store: EventStore;
  readonly #projections: readonly AnyProjection[];
  readonly #inline: Set<string>;
  readonly #batchSize: number;
  readonly #replayBatchSize: number;
  readonly #pollMs: number;
  readonly #ttlMs: number;
  readonly #attempts: number;
  readonly #minDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #onFailure: 'dead-letter' | 'stop';
  readonly #autoRebuild: boolean;
  readonly #log: ProjectionLogger;
  readonly #onBatch: ((batch: BatchReport) => void) | undefined;
  readonly #units = new Map<string, { unit: Unit; loop: Promise<void> }>();
  #stopping = false;
  #stopped: Promise<void> | undefined;
  #wake: () => void = () => {};
  #woken: Promise<void>;
  #subscription: { close(): Promise<void> } | undefined;
  #membership: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;

  constructor(store: EventStore, projections: readonly AnyProjection[], options: RunProjectionsOptions) {
    this.#store = store;
    this.#projections = projections;
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.#inline = new Set(options.inline ?? []);
    this.#batchSize = options.batchSize ?? 500;
    this.#replayBatchSize = options.replayBatchSize ?? 5000;
    this.#pollMs = options.pollIntervalMs ?? 1000;
    this.#ttlMs = options.leaseTtlMs ?? 5000;
    this.#attempts = options.retries?.attempts ?? 5;
    this.#minDelayMs = options.retries?.minDelayMs ?? 100;
    this.#maxDelayMs = options.retries?.maxDelayMs ?? 5000;
    this.#onFailure = options.onFailure ?? 'dead-letter';
    this.#autoRebuild = options.autoRebuild ?? true;
    this.#log = options.logger ?? silent;
    this.#onBatch = options.onBatch;
    this.#woken = new Promise((resolve) => (this.#wake = resolve));
    this.ready = this.#start();
    // The caller may never await `ready`; its failure is logged, and stop() still works.
    this.ready.catch((error: unknown) => this.#log.error({ err: error }, 'projection runner failed to start'));
  }

  async #start(): Promise<void> {
    for (const projection of this.#projections) {
      await setupProjection(this.#store, projection, { autoRebuild: this.#autoRebuild, inline: this.#inline.has(projection.name) });
    }
    await this.#heartbeatWorker();
    await this.#listen();
    await this.#tick();
    // stop() may have been called while this was starting: no rounds after it.
    if (this.#stopping) return;
    const every = Math.max(100, Math.floor(this.#ttlMs / 3));
    this.#timer = setInterval(() => {
      this.#membership = this.#membership.then(() => this.#tick()).catch((error: unknown) => {
        this.#log.warn({ err: error, worker: this.workerId }, 'projection membership round failed; retrying');
      });
    }, every);
  }

  /** LISTEN for appends; when the connection drops, polling carries on and the next round listens again. */
  async #listen(): Promise<void> {
    if (this.#subscription || this.#stopping) return;
    try {
      this.#subscription = await this.#store.subscribeToAppends(
        () => this.#notify(),
        (error) => {
          this.#subscription = undefined;
          this.#log.warn({ err: error }, 'lost the LISTEN connection; polling until it is back');
        },
      );
    } catch (error) {
      this.#log.warn({ err: error }, 'could not LISTEN for appends; polling');
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#woken = new Promise((resolve) => (this.#wake = resolve));
    wake();
  }

  async #heartbeatWorker(): Promise<void> {
    await this.#transaction((tx) =>
      tx.query(
        `INSERT INTO ${table(tx.schema, 'projection_workers')} (worker_id, projections, host, pid)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = now(), projections = excluded.projections`,
        [this.workerId, this.#projections.map((p) => p.name), hostname(), process.pid],
      ),
    );
  }

  /**
   * One membership round: heartbeat, renew the leases held (a unit whose lease could not
   * be renewed is dropped), then claim free partitions up to this worker's fair share of
   * each projection, or give back what is above it.
   */
  async #tick(): Promise<void> {
    if (this.#stopping) return;
    await this.#heartbeatWorker();
    await this.#listen();
    const renewed = await this.#transaction((tx) =>
      tx.query<{ projection: string; generation: number; partition: number }>(
        `UPDATE ${table(tx.schema, 'projection_partitions')}
            SET lease_expires_at = now() + make_interval(secs => $2::double precision / 1000), heartbeat_at = now()
          WHERE owner = $1 AND lease_expires_at > now()
          RETURNING projection, generation, partition`,
        [this.workerId, this.#ttlMs],
      ),
    );
    const held = new Set(renewed.map((row) => keyOf(row.projection, row.generation, row.partition)));
    for (const [key, { unit }] of this.#units) {
      if (!held.has(key) && !unit.lost) {
        unit.lost = true;
        this.#log.warn({ projection: unit.projection.name, generation: unit.generation, partition: unit.partition }, 'lease lost');
      }
    }
    this.#notify();

    for (const projection of this.#projections) {
      if (this.#stopping) return;
      await this.#balance(projection);
    }
  }

  async #balance(projection: AnyProjection): Promise<void> {
    const inline = this.#inline.has(projection.name);
    // A version bump deployed while this runner was up (another process started with
    // newer code retires nothing here; this process's own code is what it was), or a
    // generation dropped by hand: set up again, under the projection's lock, only then.
    if (await this.#needsSetup(projection)) await setupProjection(this.#store, projection, { autoRebuild: this.#autoRebuild, inline });
    const [counts] = await this.#transaction((tx) =>
      tx.query<{ units: number; workers: number }>(
        `SELECT
           (SELECT count(*)::int FROM ${table(tx.schema, 'projection_partitions')} p
              JOIN ${table(tx.schema, 'projection_generations')} g USING (projection, generation)
             WHERE p.projection = $1 AND g.version = $2 AND p.stopped_error IS NULL
               AND (g.status = 'building' OR (g.status = 'live' AND NOT $3::boolean))) AS units,
           (SELECT count(*)::int FROM ${table(tx.schema, 'projection_workers')}
             WHERE $1 = ANY(projections) AND heartbeat_at > now() - make_interval(secs => $4::double precision / 1000)) AS workers`,
        [projection.name, projection.version, inline, this.#ttlMs],
      ),
    );
    const share = Math.ceil((counts?.units ?? 0) / Math.max(1, counts?.workers ?? 1));
    const mine = [...this.#units.values()].filter(({ unit }) => unit.projection === projection && !unit.lost && !unit.release);
    if (mine.length > share) {
      for (const { unit } of mine.slice(share)) unit.release = true;
      return;
    }
    if (mine.length === share) return;
    const claimed = await this.#transaction((tx) =>
      tx.query<{ generation: number; partition: number; schema_name: string; status: string }>(
        `WITH free AS (
           SELECT p.projection, p.generation, p.partition
             FROM ${table(tx.schema, 'projection_partitions')} p
             JOIN ${table(tx.schema, 'projection_generations')} g USING (projection, generation)
            WHERE p.projection = $1 AND g.version = $2 AND p.stopped_error IS NULL
              AND (g.status = 'building' OR (g.status = 'live' AND NOT $3::boolean))
              AND (p.owner IS NULL OR p.lease_expires_at <= now())
            ORDER BY g.status = 'live' DESC, p.generation, p.partition
            LIMIT $4
            FOR UPDATE OF p SKIP LOCKED)
         UPDATE ${table(tx.schema, 'projection_partitions')} p
            SET owner = $5, lease_expires_at = now() + make_interval(secs => $6::double precision / 1000), heartbeat_at = now()
           FROM free, ${table(tx.schema, 'projection_generations')} g
          WHERE p.projection = free.projection AND p.generation = free.generation AND p.partition = free.partition
            AND g.projection = p.projection AND g.generation = p.generation
          RETURNING p.generation, p.partition, g.schema_name, g.status`,
        [projection.name, projection.version, inline, share - mine.length, this.workerId, this.#ttlMs],
      ),
    );
    for (const row of claimed) {
      const unit: Unit = {
        projection,
        generation: row.generation,
        partition: row.partition,
        schemaName: row.schema_name,
        building: row.status === 'building',
        lost: false,
        release: false,
        recent: [],
      };
      const key = keyOf(projection.name, row.generation, row.partition);
      this.#log.info({ projection: projection.name, generation: row.generation, partition: row.partition, worker: this.workerId }, 'partition claimed');
      const loop = this.#runUnit(unit).finally(() => this.#units.delete(key));
      this.#units.set(key, { unit, loop });
    }
  }

  /** True when no generation of this code's version is live or being built. */
  async #needsSetup(projection: AnyProjection): Promise<boolean> {
    const rows = await this.#transaction((tx) =>
      tx.query(
        `SELECT 1 FROM ${table(tx.schema, 'projection_generations')}
          WHERE projection = $1 AND version = $2 AND status IN ('live', 'building')`,
        [projection.name, projection.version],
      ),
    );
    return rows.length === 0 && this.#autoRebuild;
  }

  async #runUnit(unit: Unit): Promise<void> {
    let failures = 0;
    while (!unit.lost && !unit.release && !this.#stopping) {
      const woken = this.#woken;
      let outcome: BatchOutcome;
      try {
        outcome = await this.#processBatch(unit);
        failures = 0;
      } catch (error) {
        // Not a handler failure: the database is unreachable, a deadlock… Back off and retry.
        failures++;
        this.#log.warn({ err: error, projection: unit.projection.name, partition: unit.partition }, 'projection batch failed; retrying');
        await this.#sleep(this.#backoff(failures));
        continue;
      }
      if (ends(unit, outcome)) break;
      if (outcome.kind === 'failed') {
        await this.#isolate(unit, outcome.limit);
        continue;
      }
      unit.building = outcome.building;
      if (outcome.caughtUp && unit.building) {
        const inline = this.#inline.has(unit.projection.name);
        const switched = await switchIfCaughtUp(this.#store, unit.projection, inline).catch((error: unknown) => {
          // The database went away, or a handler failed on the drain: the next caught-up batch asks again.
          this.#log.warn({ err: error, projection: unit.projection.name }, 'could not switch to the rebuilt generation; retrying');
          return false;
        });
        if (switched) {
          this.#log.info({ projection: unit.projection.name, generation: unit.generation }, 'rebuild caught up: readers switched to it');
          unit.building = false;
          if (inline) {
            unit.release = true;
            break;
          }
        }
      }
      if (outcome.caughtUp) {
        await Promise.race([woken, this.#sleep(this.#pollMs)]);
      }
    }
    if (!unit.lost) await this.#releaseLease(unit);
  }

  /**
   * One batch in one transaction. Everything is read before anything is written, so the
   * transaction has no id while it reads and does not hold back the global log's bound
   * for itself or other readers. The checkpoint UPDATE at the end is the fence: it only
   * matches while this worker owns the partition and the checkpoint is still where the
   * batch started, so a worker that lost its lease (paused, partitioned away) rolls back
   * instead of applying events a second time.
   */
  async #processBatch(unit: Unit, fixedLimit?: number): Promise<BatchOutcome> {
    const projection = unit.projection;
    try {
      return await this.#transaction(async (tx) => {
        const [state] = await tx.query<{
          position: string | bigint;
          mine: boolean;
          status: string;
          stopped: boolean;
          replay_until: string | bigint;
          live_position: string | bigint | null;
        }>(
          `SELECT p.position, (p.owner = $4 AND p.lease_expires_at > now()) AS mine, g.status, p.stopped_error IS NOT NULL AS stopped,
                  g.replay_until,
                  (SELECT min(lp.position) FROM ${table(tx.schema, 'projection_partitions')} lp
                     JOIN ${table(tx.schema, 'projection_generations')} lg USING (projection, generation)
                    WHERE lg.projection = p.projection AND lg.status = 'live' AND lg.generation <> p.generation) AS live_position
             FROM ${table(tx.schema, 'projection_partitions')} p
             JOIN ${table(tx.schema, 'projection_generations')} g USING (projection, generation)
            WHERE p.projection = $1 AND p.generation = $2 AND p.partition = $3`,
          [projection.name, unit.generation, unit.partition, this.workerId],
        );
        if (!state?.mine || state.status === 'retired' || state.stopped) return { kind: 'lost' } as const;
        // Switched to by another worker's partition: the appenders write it from now on.
        if (state.status === 'live' && this.#inline.has(projection.name)) return { kind: 'release' } as const;
        const from = BigInt(state.position);
        // History, replayed (large batches, `replayBatch`, `replaying` for the handlers):
        // for a rebuild, what the live generation has already processed, so a side effect
        // it performed is not repeated and one it never got to is not lost; for a live
        // generation, what the log held when it was created.
        const replayUntil =
          state.status === 'building' && state.live_position !== null ? BigInt(state.live_position) : BigInt(state.replay_until);
        const limit = fixedLimit ?? (from < replayUntil ? this.#replayBatchSize : this.#batchSize);
        const head = await tx.headPosition();
        const page = await tx.readAll({
          after: from,
          limit,
          types: [...projection.eventTypes],
          ...(projection.categories ? { categories: [...projection.categories] } : {}),
        });
        const full = page.length === limit;
        const last = page.at(-1)?.globalPosition ?? from;
        // With a filter, a short page means every matching event up to the head read
        // first has been seen: the checkpoint may move past the events of other types.
        const next = full ? last : [head, last, from].reduce((a, b) => (a > b ? a : b));
        const customKey = projection.definition.partitionKey !== undefined;
        const events: AnyProjectedEvent[] = [];
        for (const event of page) {
          if (!customKey && projection.partitions > 1 && partitionOfKey(event.streamId, projection.partitions) !== unit.partition) continue;
          let decoded: AnyProjectedEvent;
          try {
            decoded = projection.decode(event) as AnyProjectedEvent;
          } catch (error) {
            throw new HandlerFailure(error, event as AnyProjectedEvent, from, limit);
          }
          if (customKey && projection.partitionOf(decoded) !== unit.partition) continue;
          events.push(decoded);
        }
        const where = { generation: unit.generation, partition: unit.partition };
        const context = await projectionContext(tx, unit.schemaName, { replaying: true, ...where });
        const history = events.filter((event) => event.globalPosition <= replayUntil);
        const fresh = history.length === events.length ? [] : events.filter((event) => event.globalPosition > replayUntil);
        // An inline projection's build is switched to with a drain of what lies beyond its
        // checkpoints (rebuild.ts). Holding its lock shared, this batch commits before a
        // switch reads them; and a switch that committed since the status above was read
        // is seen here (a fresh statement), so the batch leaves the generation to the
        // appenders instead of applying events that they may already have applied.
        if (state.status === 'building' && this.#inline.has(projection.name)) {
          await lockProjection(tx, projection.name, 'shared');
          const [still] = await tx.query<{ status: string }>(
            `SELECT status FROM ${table(tx.schema, 'projection_generations')} WHERE projection = $1 AND generation = $2`,
            [projection.name, unit.generation],
          );
          if (still?.status !== 'building') return { kind: still?.status === 'live' ? 'release' : 'lost' } as const;
        }
        try {
          await applyEvents(projection, history, context, true);
          await applyEvents(projection, fresh, { ...context, replaying: false }, false);
        } catch (error) {
          throw new HandlerFailure(error, limit === 1 ? events[0] : undefined, from, limit);
        }
        const now = Date.now();
        while (unit.recent.length > 0 && unit.recent[0]!.at < now - 10_000) unit.recent.shift();
        const windowMs = Math.max(1000, now - (unit.recent[0]?.at ?? now));
        const throughput = ((unit.recent.reduce((sum, r) => sum + r.events, 0) + events.length) * 1000) / windowMs;
        const updated = await tx.query(
          `UPDATE ${table(tx.schema, 'projection_partitions')}
              SET position = $5, events_processed = events_processed + $6, caught_up = $7, throughput = $8,
                  heartbeat_at = now(), updated_at = now()
            WHERE projection = $1 AND generation = $2 AND partition = $3
              AND owner = $4 AND lease_expires_at > now() AND position = $9
            RETURNING 1`,
          [projection.name, unit.generation, unit.partition, this.workerId, next.toString(), events.length, !full, throughput, from.toString()],
        );
        if (updated.length === 0) throw new LostOwnership();
        unit.recent.push({ at: now, events: events.length });
        const building = state.status === 'building';
        return { kind: 'done', events: events.length, position: next, caughtUp: !full, replaying: from < replayUntil, building } as const;
      }).then((outcome: BatchOutcome) => {
        if (outcome.kind === 'done') {
          this.#onBatch?.({
            projection: projection.name,
            generation: unit.generation,
            partition: unit.partition,
            replaying: outcome.replaying,
            events: outcome.events,
            position: outcome.position,
            caughtUp: outcome.caughtUp,
          });
        }
        return outcome;
      });
    } catch (error) {
      if (error instanceof LostOwnership) return { kind: 'lost' };
      if (error instanceof HandlerFailure) {
        return { kind: 'failed', error: error.failure, from: error.from, failedEvent: error.event, limit: error.limit };
      }
      throw error;
    }
  }

  /**
   * After a batch failed: go on one event per transaction, so the events before the
   * culprit commit, the culprit is retried with backoff (outside any transaction: a
   * transaction held open while waiting would hold back every reader of the log), and
   * after the last attempt is dead-lettered (or stops the partition). A failure no retry
   * can cure (isRetryable) gets no further attempt. Then back to batches.
   */
  async #isolate(unit: Unit, batchSize: number): Promise<void> {
    // Events one at a time until the culprit is passed: at most the failed batch's worth.
    for (let processed = 0; processed < batchSize; ) {
      if (unit.lost || this.#stopping) return;
      let outcome: BatchOutcome | undefined;
      for (let attempt = 1; ; attempt++) {
        outcome = await this.#processBatch(unit, 1);
        if (outcome.kind !== 'failed') break;
        const { error, failedEvent } = outcome;
        const retryable = isRetryable(error);
        this.#log.warn(
          { err: error, projection: unit.projection.name, partition: unit.partition, position: failedEvent?.globalPosition.toString(), attempt, retryable },
          'projection handler failed',
        );
        if (retryable && attempt < this.#attempts) {
          await this.#countRetry(unit);
          await this.#sleep(this.#backoff(attempt));
          if (unit.lost || this.#stopping) return;
          continue;
        }
        if (this.#onFailure === 'stop' || !failedEvent) {
          await this.#stopPartition(unit, error);
          return;
        }
        const dead = await this.#deadLetter(unit, outcome.from, failedEvent, error, attempt);
        outcome = dead ? { kind: 'done', events: 1, position: failedEvent.globalPosition, caughtUp: false, replaying: false, building: unit.building } : { kind: 'lost' };
        break;
      }
      if (ends(unit, outcome)) return;
      if (outcome.kind === 'done' && outcome.caughtUp) return;
      processed++;
    }
  }

  async #countRetry(unit: Unit): Promise<void> {
    await this.#transaction((tx) =>
      tx.query(
        `UPDATE ${table(tx.schema, 'projection_partitions')} SET retries = retries + 1, updated_at = now()
          WHERE projection = $1 AND generation = $2 AND partition = $3`,
        [unit.projection.name, unit.generation, unit.partition],
      ),
    );
  }

  async #stopPartition(unit: Unit, error: unknown): Promise<void> {
    this.#log.error({ err: error, projection: unit.projection.name, partition: unit.partition }, 'projection partition stopped');
    await this.#transaction((tx) =>
      tx.query(
        `UPDATE ${table(tx.schema, 'projection_partitions')} SET stopped_error = $4, owner = NULL, lease_expires_at = NULL, updated_at = now()
          WHERE projection = $1 AND generation = $2 AND partition = $3`,
        [unit.projection.name, unit.generation, unit.partition, describe(error)],
      ),
    );
    unit.lost = true;
  }

  /** Records the event as a dead letter and moves the checkpoint past it, together. */
  async #deadLetter(unit: Unit, from: bigint, event: AnyProjectedEvent, error: unknown, attempts: number): Promise<boolean> {
    return this.#transaction(async (tx) => {
      const moved = await tx.query(
        `UPDATE ${table(tx.schema, 'projection_partitions')}
            SET position = $5, dead_lettered = dead_lettered + 1, updated_at = now()
          WHERE projection = $1 AND generation = $2 AND partition = $3 AND owner = $4 AND lease_expires_at > now() AND position = $6
          RETURNING 1`,
        [unit.projection.name, unit.generation, unit.partition, this.workerId, event.globalPosition.toString(), from.toString()],
      );
      if (moved.length === 0) return false;
      await tx.query(
        `INSERT INTO ${table(tx.schema, 'projection_dead_letters')}
           (projection, generation, partition, global_position, event_id, stream_id, stream_version, event_type,
            error_message, error_stack, attempts)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (projection, generation, global_position) DO NOTHING`,
        [
          unit.projection.name,
          unit.generation,
          unit.partition,
          event.globalPosition.toString(),
          event.id,
          event.streamId,
          event.version,
          event.type,
          describe(error),
          error instanceof Error ? (error.stack ?? null) : null,
          attempts,
        ],
      );
      this.#log.error({ projection: unit.projection.name, position: event.globalPosition.toString(), attempts }, 'event dead-lettered');
      return true;
    });
  }

  /**
   * The worker's transactions write read models, checkpoints and leases, never the log:
   * opened with `appends: false`, they never hold back the log's readers, other
   * projections' workers among them (docs/global-log.md).
   */
  #transaction<T>(work: (tx: EventStoreTransaction) => Promise<T>): Promise<T> {
    return this.#store.withTransaction(work, { appends: false });
  }

  async #releaseLease(unit: Unit): Promise<void> {
    await this
      .#transaction((tx) =>
        tx.query(
          `UPDATE ${table(tx.schema, 'projection_partitions')} SET owner = NULL, lease_expires_at = NULL, throughput = 0, updated_at = now()
            WHERE projection = $1 AND generation = $2 AND partition = $3 AND owner = $4`,
          [unit.projection.name, unit.generation, unit.partition, this.workerId],
        ),
      )
      .catch((error: unknown) => this.#log.warn({ err: error }, 'could not release a lease; it expires on its own'));
  }

  #backoff(attempt: number): number {
    const ceiling = Math.min(this.#maxDelayMs, this.#minDelayMs * 2 ** attempt);
    return this.#minDelayMs + Math.random() * Math.max(0, ceiling - this.#minDelayMs);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      void this.#stoppedSignal.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #signalStop: () => void = () => {};
  readonly #stoppedSignal = new Promise<void>((resolve) => (this.#signalStop = resolve));

  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#stopping = true;
      this.#signalStop();
      if (this.#timer) clearInterval(this.#timer);
      this.#notify();
      await this.ready.catch(() => {});
      await this.#membership.catch(() => {});
      await Promise.all([...this.#units.values()].map(({ loop }) => loop));
      await this.#subscription?.close().catch(() => {});
      await this
        .#transaction((tx) => tx.query(`DELETE FROM ${table(tx.schema, 'projection_workers')} WHERE worker_id = $1`, [this.workerId]))
        .catch(() => {});
    })();
    return this.#stopped;
  }
}

/**
 * False for an event the projection's schemas cannot decode (EventSchemaError): stored
 * events are never rewritten and this process's code does not change, so every retry
 * would fail the same way, only after backoff that holds the whole partition up (issue
 * 9). A handler's own error may pass (a deadlock, a service down): it is retried.
 */
function isRetryable(error: unknown): boolean {
  return !(error instanceof EventSchemaError);
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
