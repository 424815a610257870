import type { EventStore, EventStoreTransaction } from '../event-store/event-store.js';
import { storeLocals } from '../event-store/store-locals.js';

/**
 * Waiting for consumers of the log to reach global positions, for any number of callers
 * at once (read your writes: every query of a service may wait). One watch per store:
 *
 * - one LISTEN connection (`subscribeToAppends`), opened when the first caller waits and
 *   closed once none has waited for `lingerMs`: the engine notifies on the same channel
 *   when a checkpoint moves (checkpoint-notifier.ts), so a waiter looks again as soon as a
 *   batch, a dead letter or a stop commits, and a notification that was lost (a dropped
 *   connection) only delays it until the next poll (`pollIntervalMs`);
 * - one round at a time: every waiter's probe runs in one read-only transaction, with the
 *   reads they have in common made once (WatchRound.memo), so a hundred waiters cost about
 *   what one does. Notifications during a round ask for one more round, never more.
 */

/** What a probe finds: the consumers have reached the position, or not yet (why, for a timeout's message), or never will. */
export type ProbeResult = { kind: 'reached' } | { kind: 'behind'; behind: string; consumers: readonly string[] } | { kind: 'failed'; error: Error };

/** Reads the state of what a waiter waits for; throws only on a database fault (every waiter of the round then fails with it). */
export type Probe = (round: WatchRound) => Promise<ProbeResult>;

/** One round of checks: the transaction, the positions waited for, and reads shared by the round's probes. */
export class WatchRound {
  readonly tx: EventStoreTransaction;
  /** The lowest and highest positions waited for in this round. */
  readonly lowest: bigint;
  readonly highest: bigint;
  readonly #reads = new Map<string, Promise<unknown>>();

  constructor(tx: EventStoreTransaction, positions: readonly bigint[]) {
    this.tx = tx;
    this.lowest = positions.reduce((a, b) => (a < b ? a : b));
    this.highest = positions.reduce((a, b) => (a > b ? a : b));
  }

  /** `read()` once per round and key; the probes that ask again get the same answer. */
  memo<T>(key: string, read: () => Promise<T>): Promise<T> {
    let value = this.#reads.get(key) as Promise<T> | undefined;
    if (!value) this.#reads.set(key, (value = read()));
    return value;
  }
}

export interface WaitSettings {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** The error of a timeout, from what the last probe found behind (undefined: never probed). */
  timeoutError: (behind: { behind: string; consumers: readonly string[] } | undefined) => Error;
}

interface Waiter {
  position: bigint;
  probe: Probe;
  last: { behind: string; consumers: readonly string[] } | undefined;
  settle(error?: unknown): void;
}

export interface PositionWatchOptions {
  /** Rounds without a notification, for what one lost (default 1,000 ms; 200 while no LISTEN connection is up). */
  pollIntervalMs?: number;
  /** How long the LISTEN connection stays open after the last waiter (default 10,000 ms). */
  lingerMs?: number;
}

/** A store's watch (see the top of this file): `positionWatchOf(store)` gives the one it shares. */
export class PositionWatch {
  readonly #store: EventStore;
  readonly #pollIntervalMs: number;
  readonly #lingerMs: number;
  readonly #waiters = new Set<Waiter>();
  #subscription: { close(): Promise<void> } | undefined;
  #subscribing: Promise<void> | undefined;
  #round: Promise<void> | undefined;
  #again = false;
  #poll: NodeJS.Timeout | undefined;
  #linger: NodeJS.Timeout | undefined;

  constructor(store: EventStore, options: PositionWatchOptions = {}) {
    this.#store = store;
    this.#pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.#lingerMs = options.lingerMs ?? 10_000;
  }

  /** How many callers are waiting now. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Whether the LISTEN connection is up. */
  get listening(): boolean {
    return this.#subscription !== undefined;
  }

  /**
   * Resolves once `probe` finds the position reached; rejects with the error it finds, the
   * timeout's error, the signal's reason, or a database fault of a round.
   */
  wait(position: bigint, probe: Probe, settings: WaitSettings): Promise<void> {
    const { signal } = settings;
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => waiter.settle(signal!.reason);
      const timer = setTimeout(() => waiter.settle(settings.timeoutError(waiter.last)), settings.timeoutMs);
      const waiter: Waiter = {
        position,
        probe,
        last: undefined,
        settle: (error?: unknown) => {
          if (!this.#waiters.delete(waiter)) return;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          if (this.#waiters.size === 0) this.#idle();
          if (error === undefined) resolve();
          else reject(error as Error);
        },
      };
      this.#waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      clearTimeout(this.#linger);
      // Listening before the first look: a checkpoint that moves between the two is heard.
      void this.#listen().then(() => this.#schedule());
      this.#startPolling();
    });
  }

  /** Closes the LISTEN connection now (waiters carry on by polling). */
  async close(): Promise<void> {
    clearTimeout(this.#linger);
    await this.#subscribing;
    const subscription = this.#subscription;
    this.#subscription = undefined;
    await subscription?.close().catch(() => {});
  }

  #listen(): Promise<void> {
    if (this.#subscription) return Promise.resolve();
    this.#subscribing ??= this.#store
      .subscribeToAppends(
        () => this.#schedule(),
        () => {
          // Polling goes on at the faster pace; the next waiter listens again.
          this.#subscription = undefined;
          this.#restartPolling();
        },
      )
      .then(
        (subscription) => {
          this.#subscription = subscription;
          this.#restartPolling();
          if (this.#waiters.size === 0) this.#idle();
        },
        // No LISTEN connection (the database is away, the store closed): rounds say why to
        // the waiters, and polling stands in meanwhile.
        () => {},
      )
      .finally(() => (this.#subscribing = undefined));
    return this.#subscribing;
  }

  #startPolling(): void {
    if (this.#poll) return;
    this.#poll = setInterval(() => {
      if (!this.#subscription) void this.#listen();
      this.#schedule();
    }, this.#subscription ? this.#pollIntervalMs : Math.min(200, this.#pollIntervalMs));
  }

  #restartPolling(): void {
    if (!this.#poll) return;
    clearInterval(this.#poll);
    this.#poll = undefined;
    if (this.#waiters.size > 0) this.#startPolling();
  }

  /** No one waits: stop polling, and close the LISTEN connection unless someone waits again soon. */
  #idle(): void {
    clearInterval(this.#poll);
    this.#poll = undefined;
    clearTimeout(this.#linger);
    this.#linger = setTimeout(() => {
      if (this.#waiters.size === 0) void this.close();
    }, this.#lingerMs);
    // The linger must not keep a process alive that has nothing else to do.
    this.#linger.unref();
  }

  #schedule(): void {
    if (this.#round) {
      this.#again = true;
      return;
    }
    this.#round = this.#rounds().finally(() => (this.#round = undefined));
  }

  async #rounds(): Promise<void> {
    do {
      this.#again = false;
      const waiters = [...this.#waiters];
      if (waiters.length === 0) return;
      try {
        await this.#store.withTransaction(
          async (tx) => {
            const round = new WatchRound(tx, waiters.map((waiter) => waiter.position));
            for (const waiter of waiters) {
              if (!this.#waiters.has(waiter)) continue;
              const found = await waiter.probe(round);
              if (found.kind === 'reached') waiter.settle();
              else if (found.kind === 'failed') waiter.settle(found.error);
              else waiter.last = { behind: found.behind, consumers: found.consumers };
            }
          },
          { appends: false },
        );
      } catch (error) {
        // A database fault (the store closed, the server gone): those who waited get it
        // now rather than a timeout that would hide it.
        for (const waiter of waiters) waiter.settle(error);
      }
    } while (this.#again);
  }
}

/** The key of the watch in the store's locals. */
const watchKey = {};

/**
 * The watch `store` shares between all its waiters in this process, kept with the store
 * (no global state): closed stores and their watches go together. A store without locals
 * (a test double) gets a new watch each time.
 */
export function positionWatchOf(store: EventStore): PositionWatch {
  const locals = store[storeLocals];
  if (!locals) return new PositionWatch(store);
  let watch = locals.get(watchKey) as PositionWatch | undefined;
  if (!watch) locals.set(watchKey, (watch = new PositionWatch(store)));
  return watch;
}
