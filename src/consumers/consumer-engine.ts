import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { backoffDelay, sleep } from '../backoff.js';
import type { EventStore, EventStoreTransaction } from '../event-store/event-store.js';
import { AnnalsError } from '../errors.js';
import { CheckpointNotifier } from './checkpoint-notifier.js';
import type { AnyConsumerClient, BatchPlan, ConsumerUnit } from './consumer-client.js';
import { processBatch, settleReadAhead, type BatchOutcome, type BatchSettings } from './consumer-batch.js';
import { fairShare } from './fair-share.js';
import { isTransientDatabaseError } from './failures.js';
import { isolateFailure } from './isolate-failure.js';
import * as leases from './leases.js';
import * as partitions from './partitions.js';
import type { ConsumerLogger, EngineOptions } from './engine-options.js';

const keyOf = (key: partitions.ConsumerUnitKey) => `${key.consumer}\u0000${key.generation}\u0000${key.partition}`;

/** Marks `unit` lost or to be released for those outcomes: true when its loop is over. */
export function ends(unit: ConsumerUnit, outcome: BatchOutcome): boolean {
  if (outcome.kind === 'lost') unit.lost = true;
  else if (outcome.kind === 'release') unit.release = true;
  else return false;
  return true;
}

/**
 * The log-consumer engine in one process: claims a fair share of its consumers'
 * partitions (leases in Postgres, shared with the other processes running the same
 * version of them), and for each one reads the global log from its checkpoint in
 * batches, hands them to the consumer and moves the checkpoint (fenced by owner and
 * position). New events wake it through LISTEN/NOTIFY, with polling as a fallback. No
 * database fault stops it: every one is logged and retried with backoff.
 */
export class ConsumerEngine {
  readonly workerId: string;
  readonly ready: Promise<void>;
  readonly #store: EventStore;
  readonly #clients: ReadonlyMap<string, AnyConsumerClient>;
  readonly #options: EngineOptions;
  readonly #ttlMs: number;
  readonly #log: ConsumerLogger;
  readonly #units = new Map<string, { unit: ConsumerUnit; loop: Promise<void> }>();
  /** Per consumer, the generations its last round found it may process. */
  readonly #claimable = new Map<string, readonly number[]>();
  readonly #stopping = new AbortController();
  /** Tells waiters for a position (waitForProjections) that a checkpoint moved. */
  readonly #checkpoints: CheckpointNotifier;
  #stopped: Promise<void> | undefined;
  #wake: () => void = () => {};
  #woken: Promise<void>;
  #subscription: { close(): Promise<void> } | undefined;
  #membership: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;

  constructor(store: EventStore, clients: readonly AnyConsumerClient[], options: EngineOptions) {
    this.#store = store;
    this.#clients = new Map(clients.map((client) => [client.name, client]));
    this.#options = options;
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.#ttlMs = options.leaseTtlMs ?? 5000;
    this.#log = options.logger;
    this.#checkpoints = new CheckpointNotifier(store);
    this.#woken = new Promise((resolve) => (this.#wake = resolve));
    // Every partition's retry wait listens on this one signal (backoff.ts sleep): more
    // than Node's default of 10 at once is expected, not a leak.
    setMaxListeners(0, this.#stopping.signal);
    this.ready = this.#start();
    // The caller may never await `ready`; its failure is logged, and stop() still works.
    this.ready.catch((error: unknown) => this.#log.error({ err: error }, `${options.noun} runner failed to start`));
  }

  get stopping(): boolean {
    return this.#stopping.signal.aborted;
  }

  /**
   * Sets the consumers up and runs the first membership round, retrying with backoff
   * while the database cannot be reached (a service often boots before its database).
   * What no retry cures (an AnnalsError: an invalid definition, a closed store) rejects;
   * a pool that stayed busy past connectionTimeoutMs (ConnectionTimeoutError) is waited out.
   */
  async #start(): Promise<void> {
    for (let attempt = 1; !this.stopping; attempt++) {
      try {
        for (const client of this.#clients.values()) await client.setup();
        await this.#tick();
        break;
      } catch (error) {
        if (error instanceof AnnalsError && !isTransientDatabaseError(error)) throw error;
        this.#log.warn({ err: error, worker: this.workerId, attempt }, `${this.#options.noun} runner could not start; retrying`);
        await this.sleep(this.backoff(attempt));
      }
    }
    // stop() may have been called while this was starting: no rounds after it.
    if (this.stopping) return;
    const every = Math.max(100, Math.floor(this.#ttlMs / 3));
    this.#timer = setInterval(() => {
      this.#membership = this.#membership.then(() => this.#tick()).catch((error: unknown) => {
        this.#log.warn({ err: error, worker: this.workerId }, `${this.#options.noun} membership round failed; retrying`);
      });
    }, every);
  }

  /** LISTEN for appends; when the connection drops, polling carries on and the next round listens again. */
  async #listen(): Promise<void> {
    if (this.#subscription || this.stopping) return;
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
   * One membership round: heartbeat; ask each consumer what it may process now; renew
   * the leases held (a unit whose partition went to another worker is dropped; a
   * partition still held with no loop running, after a fault ended it, is resumed); then
   * claim free partitions up to this worker's fair share, or give back what is above it.
   */
  async #tick(): Promise<void> {
    if (this.stopping) return;
    const consumers = [...this.#clients.values()].map(({ name, version }) => ({ name, version }));
    await this.transaction((tx) => leases.registerWorker(tx, { workerId: this.workerId, consumers, host: hostname() }));
    await this.#listen();
    for (const client of this.#clients.values()) this.#claimable.set(client.name, await client.claimable());
    const held = await this.transaction((tx) => leases.renewLeases(tx, this.workerId, this.#ttlMs));
    const heldKeys = new Set(held.map(keyOf));
    for (const [key, { unit }] of this.#units) {
      if (!heldKeys.has(key) && !unit.lost) {
        unit.lost = true;
        this.#log.warn({ consumer: unit.consumer, generation: unit.generation, partition: unit.partition }, 'lease lost');
      }
    }
    for (const key of held) {
      if (this.#units.has(keyOf(key)) || !this.#claimable.get(key.consumer)?.includes(key.generation)) continue;
      this.#startUnit(key, 'partition resumed');
    }
    this.#notify();
    for (const client of this.#clients.values()) {
      if (this.stopping) return;
      await this.#balance(client);
      await client.afterRound?.();
    }
  }

  async #balance(client: AnyConsumerClient): Promise<void> {
    const generations = this.#claimable.get(client.name) ?? [];
    if (generations.length === 0) return;
    const { units, workers } = await this.transaction((tx) => leases.shareOf(tx, { name: client.name, version: client.version, generations }, this.#ttlMs));
    const mine = [...this.#units.values()].filter(({ unit }) => unit.consumer === client.name && !unit.lost && !unit.release);
    const { claim, release } = fairShare({ units, workers, held: mine.length });
    for (const { unit } of mine.slice(mine.length - release)) unit.release = true;
    if (claim === 0) return;
    const claimed = await this.transaction((tx) =>
      leases.claimPartitions(tx, { consumer: client.name, generations, limit: claim, workerId: this.workerId, ttlMs: this.#ttlMs }),
    );
    for (const key of claimed) this.#startUnit(key, 'partition claimed');
  }

  #startUnit(key: partitions.ConsumerUnitKey, message: string): void {
    const unit: ConsumerUnit = { consumer: key.consumer, generation: key.generation, partition: key.partition, lost: false, release: false, recent: [] };
    const client = this.#clients.get(unit.consumer)!;
    this.#log.info({ consumer: unit.consumer, generation: unit.generation, partition: unit.partition, worker: this.workerId }, message);
    const loop = this.#runUnit(client, unit).finally(() => {
      if (this.#units.get(keyOf(unit))?.unit === unit) this.#units.delete(keyOf(unit));
    });
    this.#units.set(keyOf(unit), { unit, loop });
  }

  /** One batch, reported to onBatch when it committed. */
  async batch(client: AnyConsumerClient, unit: ConsumerUnit, fixedLimit?: number): Promise<BatchOutcome> {
    const settings: BatchSettings = { workerId: this.workerId, ttlMs: this.#ttlMs, transaction: (work, options) => this.transaction(work, options) };
    const outcome = await processBatch(client, unit, settings, fixedLimit);
    if (outcome.kind === 'done') {
      const { events, position, caughtUp, plan } = outcome;
      if (events > 0) this.checkpointMoved();
      this.#options.onBatch?.({ consumer: unit.consumer, generation: unit.generation, partition: unit.partition, replaying: plan?.replaying ?? false, events, position, caughtUp });
    }
    return outcome;
  }

  /**
   * A partition's loop. Any database fault in it (reading, handling, the fence, a retry,
   * a dead letter, a stop) is logged and retried with backoff from the checkpoint:
   * nothing that fails here escapes the loop.
   */
  async #runUnit(client: AnyConsumerClient, unit: ConsumerUnit): Promise<void> {
    let failures = 0;
    while (!unit.lost && !unit.release && !this.stopping) {
      const woken = this.#woken;
      try {
        const outcome = await this.batch(client, unit);
        failures = 0;
        if (ends(unit, outcome)) break;
        if (outcome.kind === 'failed') {
          await isolateFailure(this, client, unit, outcome.limit);
          continue;
        }
        if (outcome.kind !== 'done' || !outcome.caughtUp) continue;
        if (client.caughtUp && outcome.plan && (await client.caughtUp(unit, outcome.plan as BatchPlan)) === 'release') {
          unit.release = true;
          break;
        }
        await Promise.race([woken, this.sleep(this.#options.pollIntervalMs ?? 1000)]);
      } catch (error) {
        // Not a handler failure: the database is unreachable, a deadlock… Back off and retry.
        failures++;
        this.#log.warn({ err: error, consumer: unit.consumer, partition: unit.partition }, `${this.#options.noun} batch failed; retrying`);
        await this.sleep(this.backoff(failures));
      }
    }
    await settleReadAhead(unit);
    if (!unit.lost) await this.#releaseLease(unit);
  }

  /**
   * The engine's transactions write checkpoints, leases and the consumers' own rows, not
   * the log: opened with `appends: false`, they never hold back the log's readers
   * (docs/global-log.md). Only the batches of a consumer that appends (a process manager
   * sending commands) may append.
   */
  transaction<T>(work: (tx: EventStoreTransaction) => Promise<T>, { appends } = { appends: false }): Promise<T> {
    return this.#store.withTransaction(work, { appends });
  }

  /** After a committed move of a checkpoint past events (applied, dead-lettered) or a stop: notifies waiters. */
  checkpointMoved(): void {
    this.#checkpoints.notify();
  }

  get log(): ConsumerLogger {
    return this.#log;
  }

  get options(): EngineOptions {
    return this.#options;
  }

  async #releaseLease(unit: ConsumerUnit): Promise<void> {
    await this.transaction((tx) => leases.releaseLease(tx, unit, this.workerId)).catch((error: unknown) =>
      this.#log.warn({ err: error }, 'could not release a lease; it expires on its own'),
    );
  }

  backoff(attempt: number): number {
    return backoffDelay(attempt, { minDelayMs: this.#options.retries?.minDelayMs ?? 100, maxDelayMs: this.#options.retries?.maxDelayMs ?? 5000 });
  }

  /** Waits, or less when the engine stops. */
  sleep(ms: number): Promise<void> {
    return sleep(ms, this.#stopping.signal);
  }

  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#stopping.abort();
      if (this.#timer) clearInterval(this.#timer);
      this.#notify();
      await this.ready.catch(() => {});
      await this.#membership.catch(() => {});
      await Promise.all([...this.#units.values()].map(({ loop }) => loop));
      await this.#checkpoints.settle();
      await this.#subscription?.close().catch(() => {});
      await this.transaction((tx) => leases.deregisterWorker(tx, this.workerId)).catch(() => {});
    })();
    return this.#stopped;
  }
}
