import type { EventStore, EventStoreSession, NewEvent, RecordedEvent } from '../event-store/event-store.js';
import { storeLocals } from '../event-store/store-locals.js';
import type { AnyAggregate, StateOf } from './define-aggregate.js';

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
 *
 * A cached state belongs to the cache alone: a command takes it out ({@link take}) and
 * caches a copy made before `decide` and `evolve` saw the state (private-copy.ts), so an
 * `evolve` that changes a state in place, or a caller changing the state a command
 * returned, never reaches the state the next command decides on.
 */
export class StateCache<State> {
  readonly #maxStreams: number;
  readonly #entries = new Map<string, CachedState<State>>();
  readonly #queues = new Map<string, Promise<void>>();
  #generation = 0;

  constructor(policy: StateCachePolicy) {
    this.#maxStreams = policy.maxStreams;
  }

  /**
   * The entry of `streamId`, removed: the command that takes it may change its state, and
   * puts a state of its own back when it succeeds. One that fails leaves the stream
   * uncached, so the next command loads it.
   */
  take(streamId: string): CachedState<State> | undefined {
    const entry = this.#entries.get(streamId);
    this.#entries.delete(streamId);
    return entry;
  }

  set(streamId: string, entry: CachedState<State>): void {
    this.#entries.delete(streamId);
    this.#entries.set(streamId, entry);
    if (this.#entries.size > this.#maxStreams) this.#entries.delete(this.#entries.keys().next().value!);
  }

  clear(): void {
    this.#entries.clear();
    this.#generation++;
  }

  /** Moves on at each clear(): a command that loaded before one caches nothing. */
  get generation(): number {
    return this.#generation;
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

/**
 * The cache of `aggregate` that `session` holds: the store's, when the aggregate has a
 * cache policy. None inside a transaction, which holds no caches: its appends may still
 * roll back, so its commands load and append as without a cache.
 */
export function stateCacheFor<State>(session: EventStoreSession, aggregate: { readonly cache?: StateCachePolicy | undefined }): StateCache<State> | undefined {
  if (!aggregate.cache) return undefined;
  const locals = (session as Partial<EventStore>)[storeLocals];
  if (!locals) return undefined;
  let cache = locals.get(aggregate) as StateCache<State> | undefined;
  if (!cache) {
    locals.set(aggregate, (cache = new StateCache<State>(aggregate.cache)));
    cachesOf(locals).add(cache as StateCache<unknown>);
  }
  return cache;
}

/** The key under which a store's locals list every state cache made for it. */
const allCaches = {};

function cachesOf(locals: WeakMap<object, unknown>): Set<StateCache<unknown>> {
  let caches = locals.get(allCaches) as Set<StateCache<unknown>> | undefined;
  if (!caches) locals.set(allCaches, (caches = new Set()));
  return caches;
}

/**
 * Empties every state cache this process holds for `store`: `forget` does, since a cached
 * state may hold a forgotten subject's personal data in plaintext.
 */
export function clearStateCaches(store: EventStoreSession): void {
  const locals = (store as Partial<EventStore>)[storeLocals];
  if (locals) for (const cache of cachesOf(locals)) cache.clear();
}

/** What a command that appended leaves in the cache. */
export interface StateToRemember<A extends AnyAggregate> {
  aggregate: A;
  streamId: string;
  /** The events the command appended, as sent to the store. */
  events: readonly NewEvent[];
  /** The cache's own copy of the state the command decided on; none: leave it uncached. */
  base: { state: StateOf<A> } | undefined;
  /** The stream's version after the append. */
  version: number;
}

/**
 * Caches the state a load would rebuild after the command: `base` with its events
 * applied as read back from JSON, so the next command decides on exactly that. Leaves
 * the stream uncached when there is no `base` or the events do not apply.
 */
export function rememberState<A extends AnyAggregate>(cache: StateCache<StateOf<A>>, after: StateToRemember<A>): void {
  const cached = after.base ? stateAsLoaded(after.aggregate, after.events, after.base.state) : undefined;
  if (cached) cache.set(after.streamId, { state: cached.state, version: after.version });
  else cache.delete(after.streamId);
}

/**
 * `base` with `events` applied as a load would apply them: turned into JSON and decoded
 * again. None when an event does not survive the trip (a schema that refuses its own
 * output) or evolve throws on it: the stream is then not cached, and the next load says.
 */
function stateAsLoaded<A extends AnyAggregate>(aggregate: A, events: readonly NewEvent[], base: StateOf<A>): { state: StateOf<A> } | undefined {
  try {
    const decoded = events.map((event) =>
      aggregate.eventCodec.decode({
        type: event.type,
        schemaVersion: event.schemaVersion ?? 1,
        data: JSON.parse(JSON.stringify(event.data)) as unknown,
      } as RecordedEvent),
    );
    return { state: decoded.reduce((current, event) => aggregate.evolve(current, event), base) };
  } catch {
    return undefined;
  }
}
