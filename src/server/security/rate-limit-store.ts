/**
 * Where the rate limits' counts live, as `@fastify/rate-limit` asks of a store (its
 * `store` option): `incr(key, callback, timeWindow)` counts one operation of `key` and
 * answers the count in the key's current window and the milliseconds left of it. The
 * plugin makes one store from the class it is given and asks it a `child` per limit.
 *
 * Two backends: this process's memory (below) and the event store's database, shared by
 * every API process (database-rate-limit-store.ts).
 */

/** A key's count in its current window, and the milliseconds until the window ends. */
export interface RateLimitCount {
  current: number;
  ttl: number;
}

export type RateLimitCallback = (error: Error | null, result?: RateLimitCount) => void;

/** What the plugin calls on a store. */
export interface RateLimitStore {
  incr(key: string, callback: RateLimitCallback, timeWindow: number): void;
  child(): RateLimitStore;
}

/**
 * The class the plugin's `store` option takes, making the stores `childOf` returns: the
 * plugin constructs the class itself, so what a store needs (the event store, a logger)
 * is captured here rather than passed to a constructor the plugin calls.
 */
export function rateLimitStoreClass(childOf: () => RateLimitStore): new () => RateLimitStore {
  return class {
    // Every limit is made by createRateLimit, which counts on a child; the plugin's own
    // route hooks (not used) would count here.
    readonly #own = childOf();

    incr(key: string, callback: RateLimitCallback, timeWindow: number): void {
      this.#own.incr(key, callback, timeWindow);
    }

    child(): RateLimitStore {
      return childOf();
    }
  };
}

/**
 * Counts per key in fixed windows, in this process. The plugin's own LocalStore answers
 * every call with the same object, which it goes on changing: the operations of one batch,
 * counted in the same tick, all read the count of the last and are all refused. This one
 * answers each call with the count as it was then. At most `maxKeys` callers are
 * remembered; the one least recently counted goes first.
 */
export class FixedWindowStore implements RateLimitStore {
  static readonly maxKeys = 10_000;
  readonly #windows = new Map<string, { count: number; startedAt: number }>();

  incr(key: string, callback: RateLimitCallback, timeWindow: number): void {
    callback(null, this.count(key, timeWindow));
  }

  count(key: string, windowMs: number): RateLimitCount {
    const now = Date.now();
    let window = this.#windows.get(key);
    if (window === undefined || window.startedAt + windowMs <= now) window = { count: 0, startedAt: now };
    window.count += 1;
    // Re-inserted, so the Map's order is the order of last use.
    this.#windows.delete(key);
    this.#windows.set(key, window);
    if (this.#windows.size > FixedWindowStore.maxKeys) this.#windows.delete(this.#windows.keys().next().value as string);
    return { current: window.count, ttl: window.startedAt + windowMs - now };
  }

  child(): FixedWindowStore {
    return new FixedWindowStore();
  }
}
