import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import type { EventStore, EventStoreTransaction } from '../event-store/event-store.js';
import { parseInput } from '../event-store/validation.js';
import { AnnalsError } from '../errors.js';
import type { AnyProjection } from './define-projection.js';
import { applyPendingInline } from './inline-pending.js';
import { describe, isRetryable, isTransientDatabaseError } from './failures.js';
import * as leases from './partition-leases.js';
import { processBatch, type BatchOutcome, type BatchSettings, type Unit } from './projection-batch.js';
import { setupProjection, switchToRebuild } from './rebuild.js';
import { optionsSchema, silent, type ProjectionLogger, type ProjectionRunner, type RunProjectionsOptions } from './worker-options.js';

export type { BatchReport, ProjectionLogger, ProjectionRunner, RunProjectionsOptions } from './worker-options.js';

const keyOf = (key: leases.PartitionKey) => `${key.projection}\u0000${key.generation}\u0000${key.partition}`;

/** Marks `unit` lost or to be released for those outcomes: true when its loop is over. */
function ends(unit: Unit, outcome: BatchOutcome): boolean {
  if (outcome.kind === 'lost') unit.lost = true;
  else if (outcome.kind === 'release') unit.release = true;
  else return false;
  return true;
}

/**
 * Runs projection workers in this process: claims a fair share of the projections'
 * partitions (leases in Postgres, shared with the other processes running the same
 * version of them), and for each one reads the global log from its checkpoint in
 * batches, applies the handlers and moves the checkpoint in the same transaction. New
 * events wake it through LISTEN/NOTIFY, with polling as a fallback. Generations being
 * rebuilt are processed the same way, in larger batches, and switched to when they have
 * caught up. No database fault stops it: every one is logged and retried with backoff.
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
  readonly #options: RunProjectionsOptions;
  readonly #ttlMs: number;
  readonly #log: ProjectionLogger;
  readonly #units = new Map<string, { unit: Unit; loop: Promise<void> }>();
  /** Per projection, why this code processes nothing of it (said once per change). */
  readonly #idle = new Map<string, string>();
  #stopping = false;
  #stopped: Promise<void> | undefined;
  #wake: () => void = () => {};
  #woken: Promise<void>;
  #subscription: { close(): Promise<void> } | undefined;
  #membership: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #signalStop: () => void = () => {};
  readonly #stoppedSignal = new Promise<void>((resolve) => (this.#signalStop = resolve));

  constructor(store: EventStore, projections: readonly AnyProjection[], options: RunProjectionsOptions) {
    this.#store = store;
    this.#projections = projections;
    this.#options = options;
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.#inline = new Set(options.inline ?? []);
    this.#ttlMs = options.leaseTtlMs ?? 5000;
    this.#log = options.logger ?? silent;
    this.#woken = new Promise((resolve) => (this.#wake = resolve));
    this.ready = this.#start();
    // The caller may never await `ready`; its failure is logged, and stop() still works.
    this.ready.catch((error: unknown) => this.#log.error({ err: error }, 'projection runner failed to start'));
  }

  /**
   * Sets the projections up and runs the first membership round, retrying with backoff
   * while the database cannot be reached (a service often boots before its database).
   * What no retry cures (an AnnalsError: an invalid definition, a closed store) rejects;
   * a pool that stayed busy past connectionTimeoutMs (ConnectionTimeoutError) is waited out.
   */
  async #start(): Promise<void> {
    for (let attempt = 1; !this.#stopping; attempt++) {
      try {
        for (const projection of this.#projections) {
          await setupProjection(this.#store, projection, { autoRebuild: this.#options.autoRebuild ?? true, inline: this.#inline.has(projection.name) });
        }
        await this.#tick();
        break;
      } catch (error) {
        if (error instanceof AnnalsError && !isTransientDatabaseError(error)) throw error;
        this.#log.warn({ err: error, worker: this.workerId, attempt }, 'projection runner could not start; retrying');
        await this.#sleep(this.#backoff(attempt));
      }
    }
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

  /**
   * One membership round: heartbeat, renew the leases held (a unit whose partition went
   * to another worker is dropped; a partition still held with no loop running, after a
   * fault ended it, is resumed), then claim free partitions up to this worker's fair
   * share of each projection, or give back what is above it.
   */
  async #tick(): Promise<void> {
    if (this.#stopping) return;
    await this.#transaction((tx) => leases.registerWorker(tx, this.workerId, this.#projections, hostname()));
    await this.#listen();
    const held = await this.#transaction((tx) => leases.renewLeases(tx, this.workerId, this.#ttlMs));
    const heldKeys = new Set(held.map(keyOf));
    for (const [key, { unit }] of this.#units) {
      if (!heldKeys.has(key) && !unit.lost) {
        unit.lost = true;
        this.#log.warn({ projection: unit.projection, generation: unit.generation, partition: unit.partition }, 'lease lost');
      }
    }
    for (const partition of held) {
      if (this.#units.has(keyOf(partition)) || partition.status === 'retired') continue;
      const projection = this.#projections.find((p) => p.name === partition.projection);
      if (projection) this.#startUnit(projection, partition, 'partition resumed');
    }
    this.#notify();
    for (const projection of this.#projections) {
      if (this.#stopping) return;
      await this.#balance(projection);
      if (this.#inline.has(projection.name)) await this.#applyPending(projection);
    }
  }

  /**
   * An inline projection's live generation of this code's version gets here the events
   * that code of another version appended meanwhile (a rolling deploy): that code could
   * not apply them, and recorded them instead (inline-pending.ts).
   */
  async #applyPending(projection: AnyProjection): Promise<void> {
    try {
      const applied = await applyPendingInline(this.#store, projection);
      if (applied > 0) this.#log.info({ projection: projection.name, events: applied }, 'applied events appended by code of another version');
    } catch (error) {
      // A handler failed on one stream (it stays owed, and fails that stream's inline
      // appends alike), or the database went away: the next round tries again.
      this.#log.warn({ err: error, projection: projection.name }, 'could not apply events appended by code of another version; retrying');
    }
  }

  async #balance(projection: AnyProjection): Promise<void> {
    const inline = this.#inline.has(projection.name);
    if (!(await this.#hasWork(projection))) return;
    const { units, workers } = await this.#transaction((tx) => leases.shareOf(tx, projection, inline, this.#ttlMs));
    const share = Math.ceil(units / workers);
    const mine = [...this.#units.values()].filter(({ unit }) => unit.projection === projection.name && !unit.lost && !unit.release);
    if (mine.length > share) {
      for (const { unit } of mine.slice(share)) unit.release = true;
      return;
    }
    if (mine.length === share) return;
    const claimed = await this.#transaction((tx) =>
      leases.claimPartitions(tx, projection, { inline, limit: share - mine.length, workerId: this.workerId, ttlMs: this.#ttlMs }),
    );
    for (const partition of claimed) this.#startUnit(projection, partition, 'partition claimed');
  }

  /**
   * Whether a generation of this code's version is live or being built. A version bump
   * deployed while this runner was up, or a generation dropped by hand, is set up again
   * here (under the projection's lock). When none is left for this version (the code was
   * rolled back after a newer version switched, or autoRebuild is off), this worker
   * processes nothing of the projection: said loudly, once per change, and in status.
   */
  async #hasWork(projection: AnyProjection): Promise<boolean> {
    const active = await this.#transaction((tx) => leases.activeGenerations(tx, projection.name));
    if (active.some((g) => g.version === projection.version)) {
      if (this.#idle.delete(projection.name)) this.#log.info({ projection: projection.name }, 'projection has a generation of this version again');
      return true;
    }
    const autoRebuild = this.#options.autoRebuild ?? true;
    const newer = active.find((g) => g.version > projection.version);
    if (!newer && autoRebuild) {
      await setupProjection(this.#store, projection, { autoRebuild, inline: this.#inline.has(projection.name) });
      return true;
    }
    const reason = newer
      ? `the projection is at version ${newer.version} (${newer.status}), newer than this code's ${projection.version}: this worker processes nothing of it, and the read model is not updated by this code; deploy the newer code`
      : `no generation of version ${projection.version}, and autoRebuild is off: run \`annals projections rebuild ${projection.name}\``;
    if (this.#idle.get(projection.name) !== reason) {
      this.#idle.set(projection.name, reason);
      this.#log.error({ projection: projection.name, version: projection.version, worker: this.workerId }, `projection idle: ${reason}`);
    }
    return false;
  }

  #startUnit(projection: AnyProjection, partition: leases.HeldPartition, message: string): void {
    const unit: Unit = {
      projection: projection.name,
      definition: projection,
      generation: partition.generation,
      partition: partition.partition,
      schemaName: partition.schemaName,
      building: partition.status === 'building',
      lost: false,
      release: false,
      recent: [],
    };
    const key = keyOf(unit);
    this.#log.info({ projection: projection.name, generation: unit.generation, partition: unit.partition, worker: this.workerId }, message);
    const loop = this.#runUnit(unit).finally(() => {
      if (this.#units.get(key)?.unit === unit) this.#units.delete(key);
    });
    this.#units.set(key, { unit, loop });
  }

  get #settings(): BatchSettings {
    return {
      workerId: this.workerId,
      ttlMs: this.#ttlMs,
      batchSize: this.#options.batchSize ?? 500,
      replayBatchSize: this.#options.replayBatchSize ?? 5000,
      inline: false,
      transaction: (work) => this.#transaction(work),
    };
  }

  #batch(unit: Unit, fixedLimit?: number): Promise<BatchOutcome> {
    return processBatch(unit, { ...this.#settings, inline: this.#inline.has(unit.projection) }, fixedLimit).then((outcome) => {
      if (outcome.kind === 'done') {
        const { events, position, caughtUp, replaying } = outcome;
        this.#options.onBatch?.({ projection: unit.projection, generation: unit.generation, partition: unit.partition, replaying, events, position, caughtUp });
      }
      return outcome;
    });
  }

  /**
   * A partition's loop. Any database fault in it (reading, applying, the fence, a retry,
   * a dead letter, a stop, a switch) is logged and retried with backoff from the
   * checkpoint: nothing that fails here escapes the loop.
   */
  async #runUnit(unit: Unit): Promise<void> {
    let failures = 0;
    while (!unit.lost && !unit.release && !this.#stopping) {
      const woken = this.#woken;
      try {
        const outcome = await this.#batch(unit);
        failures = 0;
        if (ends(unit, outcome)) break;
        if (outcome.kind === 'failed') {
          await this.#isolate(unit, outcome.limit);
          continue;
        }
        if (outcome.kind !== 'done') continue;
        unit.building = outcome.building;
        if (outcome.caughtUp && unit.building && (await this.#switch(unit))) break;
        if (outcome.caughtUp) await Promise.race([woken, this.#sleep(this.#options.pollIntervalMs ?? 1000)]);
      } catch (error) {
        // Not a handler failure: the database is unreachable, a deadlock… Back off and retry.
        failures++;
        this.#log.warn({ err: error, projection: unit.projection, partition: unit.partition }, 'projection batch failed; retrying');
        await this.#sleep(this.#backoff(failures));
      }
    }
    if (!unit.lost) await this.#releaseLease(unit);
  }

  /** After a caught-up batch of a rebuild: switch readers to it when it is complete. True when the loop should end. */
  async #switch(unit: Unit): Promise<boolean> {
    const inline = this.#inline.has(unit.projection);
    const switched = await switchToRebuild(this.#store, unit.definition, inline).catch((error: unknown) => {
      // The database went away, or a handler failed on the drain: the next caught-up batch asks again.
      this.#log.warn({ err: error, projection: unit.projection }, 'could not switch to the rebuilt generation; retrying');
      return undefined;
    });
    if (!switched) return false;
    const { owedByRetired } = switched;
    this.#log.info({ projection: unit.projection, generation: unit.generation, owedByRetired }, 'rebuild caught up: readers switched to it');
    unit.building = false;
    if (!inline) return false;
    unit.release = true;
    return true;
  }

  /**
   * After a batch failed: go on one event per transaction, so the events before the
   * culprit commit, the culprit is retried with backoff (outside any transaction: a
   * transaction held open while waiting would hold back every reader of the log), and
   * after the last attempt is dead-lettered (or stops the partition). A failure no retry
   * can cure (isRetryable) gets no further attempt. Then back to batches. A database
   * fault on the way is thrown to the unit's loop, which backs off and starts over.
   */
  async #isolate(unit: Unit, batchSize: number): Promise<void> {
    const attempts = this.#options.retries?.attempts ?? 5;
    for (let processed = 0; processed < batchSize; processed++) {
      if (unit.lost || this.#stopping) return;
      let outcome: BatchOutcome;
      for (let attempt = 1; ; attempt++) {
        outcome = await this.#batch(unit, 1);
        if (outcome.kind !== 'failed') break;
        const { error, failedEvent, from } = outcome;
        const retryable = isRetryable(error);
        const position = failedEvent?.globalPosition.toString();
        this.#log.warn({ err: error, projection: unit.projection, partition: unit.partition, position, attempt, retryable }, 'projection handler failed');
        if (retryable && attempt < attempts) {
          await this.#transaction((tx) => leases.countRetry(tx, unit, this.workerId));
          await this.#sleep(this.#backoff(attempt));
          if (unit.lost || this.#stopping) return;
          continue;
        }
        if ((this.#options.onFailure ?? 'dead-letter') === 'stop' || !failedEvent) {
          const stopped = await this.#transaction((tx) => leases.stopPartition(tx, unit, { workerId: this.workerId, from }, describe(error)));
          if (stopped) this.#log.error({ err: error, projection: unit.projection, partition: unit.partition }, 'projection partition stopped');
          unit.lost = true;
          return;
        }
        const dead = await this.#transaction((tx) =>
          leases.deadLetter(tx, unit, { workerId: this.workerId, from }, {
            globalPosition: failedEvent.globalPosition,
            id: failedEvent.id,
            streamId: failedEvent.streamId,
            version: failedEvent.version,
            type: failedEvent.type,
            message: describe(error),
            stack: error instanceof Error ? (error.stack ?? null) : null,
            attempts: attempt,
          }),
        );
        if (dead) this.#log.error({ projection: unit.projection, position, attempts: attempt }, 'event dead-lettered');
        outcome = dead ? { kind: 'done', events: 1, position: failedEvent.globalPosition, caughtUp: false, replaying: false, building: unit.building } : { kind: 'lost' };
        break;
      }
      if (ends(unit, outcome)) return;
      if (outcome.kind === 'done' && outcome.caughtUp) return;
    }
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
    await this.#transaction((tx) => leases.releaseLease(tx, unit, this.workerId)).catch((error: unknown) =>
      this.#log.warn({ err: error }, 'could not release a lease; it expires on its own'),
    );
  }

  #backoff(attempt: number): number {
    const min = this.#options.retries?.minDelayMs ?? 100;
    const ceiling = Math.min(this.#options.retries?.maxDelayMs ?? 5000, min * 2 ** Math.min(attempt, 30));
    return min + Math.random() * Math.max(0, ceiling - min);
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
      await this.#transaction((tx) => leases.deregisterWorker(tx, this.workerId)).catch(() => {});
    })();
    return this.#stopped;
  }
}
