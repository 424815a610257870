import type { EventStore, EventStoreSession } from '../event-store/event-store.js';

export interface StateCachePolicy {
  /** How many streams' states to keep in this process; the least recently used go first. */
  maxStreams: number;
}

export interface CachedState<State> {
  state: State;
  /** The stream version `state` includes. */
  version: number;
}

/**
 * The aggregate states one store's commands left behind in this process, newest use last
 * (a Map keeps insertion order, so the first key is the least recently used), and a
 * queue per stream so that this process handles one command of a stream at a time.
 *
 * A cached state is a guess, never trusted on its own: handleCommand appends with its
 * version as the expected version, so a stream another writer moved on fails the append
 * and is reloaded; every other outcome decided on it (a domain error, no events) is
 * decided again on a fresh load before it is answered.
 */
export class StateCache<State> {
  readonly #maxStreams: number;
  readonly #entries = new Map<string, CachedState<State>>();
  readonly #queues = new Map<string, Promise<void>>();

  constructor(policy: StateCachePolicy) {
    this.#maxStreams = policy.maxStreams;
  }

  get(streamId: string): CachedState<State> | undefined {
    const entry = this.#entries.get(streamId);
    if (entry) {
      this.#entries.delete(streamId);
      this.#entries.set(streamId, entry);
    }
    return entry;
  }

  set(streamId: string, entry: CachedState<State>): void {
    this.#entries.delete(streamId);
    this.#entries.set(streamId, entry);
    if (this.#entries.size > this.#maxStreams) this.#entries.delete(this.#entries.keys().next().value!);
  }

  delete(streamId: string): void {
    this.#entries.delete(streamId);
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Runs `work` after every earlier call for `streamId` has settled. Commands of one
   * stream in one process would otherwise all decide on the same state and all but one
   * fail their append.
   */
  serialize<T>(streamId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(streamId);
    const run = previous ? previous.then(work) : work();
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.#queues.set(streamId, tail);
    void tail.then(() => {
      if (this.#queues.get(streamId) === tail) this.#queues.delete(streamId);
    });
    return run;
  }
}

// Per aggregate definition, per store: the same aggregate may run against several
// stores (schemas, databases), and a store closed and dropped takes its cache with it.
const caches = new WeakMap<object, WeakMap<object, StateCache<unknown>>>();

/**
 * The cache of `aggregate` for `session` when it is a store; none inside a transaction,
 * whose appends may still roll back (its commands load and append as without a cache).
 */
export function stateCacheFor<State>(aggregate: object, policy: StateCachePolicy | undefined, session: EventStoreSession): StateCache<State> | undefined {
  if (!policy || typeof (session as Partial<EventStore>).withTransaction !== 'function') return undefined;
  let byStore = caches.get(aggregate);
  if (!byStore) caches.set(aggregate, (byStore = new WeakMap()));
  let cache = byStore.get(session);
  if (!cache) byStore.set(session, (cache = new StateCache(policy)));
  return cache as StateCache<State>;
}
