/**
 * Rate limits per caller on GraphQL operations (mutations by default), counted by
 * `@fastify/rate-limit`'s store. Not a route hook, as the plugin is usually used: whether a
 * request is a mutation is known only once its document is parsed, and each operation of
 * a batch counts, so the GraphQL hook (operation-guard.ts) asks for each operation.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal } from '../principal.js';
import { RequestRefusedError, ServiceErrorCodes } from '../service-errors.js';
import { loadOptionalPackage } from './optional-package.js';
import type { RateLimit } from './security-options.js';

/** Counts one operation of `caller`; throws when it is one too many. */
export type RateLimiter = (caller: Caller) => Promise<void>;

/** Who an operation is counted against, and where the refusal's headers go. */
export interface Caller {
  principal: Principal | undefined;
  /** The HTTP request, when there is one (not over a websocket). */
  request: FastifyRequest | undefined;
  /** Sets a header on the answer (a no-op over a websocket). */
  header(name: string, value: string): void;
}

/**
 * A refusal for going over a rate limit: 429 `RATE_LIMITED`, with the seconds to wait in
 * `retryAfterSeconds` (and the answer's `retry-after` header).
 */
export class RateLimitedError extends RequestRefusedError {
  readonly retryAfterSeconds: number;
  readonly limit: RateLimit;

  constructor(kind: string, limit: RateLimit, retryAfterSeconds: number) {
    super(
      ServiceErrorCodes.rateLimited,
      429,
      `more than ${limit.max} ${kind} in ${formatWindow(limit.windowMs)} from this caller; retry after ${retryAfterSeconds} s`,
    );
    this.retryAfterSeconds = retryAfterSeconds;
    this.limit = limit;
  }
}

function formatWindow(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

export interface RateLimiters {
  mutations: RateLimiter | undefined;
  queries: RateLimiter | undefined;
}

/** Registers the plugin (its store, no route hooks) and makes a limiter for each limit given. */
export async function registerRateLimits(app: FastifyInstance, limits: { mutations: RateLimit | undefined; queries: RateLimit | undefined }): Promise<RateLimiters> {
  if (limits.mutations === undefined && limits.queries === undefined) return { mutations: undefined, queries: undefined };
  const module = await loadOptionalPackage('@fastify/rate-limit', 'options.security.rateLimit', () => import('@fastify/rate-limit'));
  // The plugin asks a key of a request; the key is the caller's, known to the hook, so the
  // hook hands the plugin a stand-in request carrying it.
  const keys = new WeakMap<object, string>();
  const keyGenerator = (request: FastifyRequest) => keys.get(request) ?? 'unknown';
  await app.register(module.default, { global: false, keyGenerator, store: FixedWindowStore });
  const limiter = (kind: string, limit: RateLimit | undefined): RateLimiter | undefined => {
    if (limit === undefined) return undefined;
    const count = app.createRateLimit({ max: limit.max, timeWindow: limit.windowMs, keyGenerator });
    return async (caller) => {
      const standIn = { routeOptions: { config: {} } };
      keys.set(standIn, keyOf(caller, module.normalizeIP));
      const outcome = await count(standIn as unknown as FastifyRequest);
      if (outcome.isAllowed) return;
      caller.header('x-ratelimit-limit', String(outcome.max));
      caller.header('x-ratelimit-remaining', String(outcome.remaining));
      caller.header('x-ratelimit-reset', String(outcome.ttlInSeconds));
      if (!outcome.isExceeded) return;
      caller.header('retry-after', String(outcome.ttlInSeconds));
      throw new RateLimitedError(kind, limit, outcome.ttlInSeconds);
    };
  };
  return { mutations: limiter('mutations', limits.mutations), queries: limiter('queries', limits.queries) };
}

/**
 * Counts per key in fixed windows, in this process, for the plugin (its `store` option).
 * The plugin's own LocalStore answers every call with the same object, which it goes on
 * changing: the operations of one batch, counted in the same tick, all read the count of
 * the last and are all refused. This one answers each call with the count as it was then.
 * At most `maxKeys` callers are remembered; the one least recently counted goes first.
 */
class FixedWindowStore {
  static readonly maxKeys = 10_000;
  readonly #windows = new Map<string, { count: number; startedAt: number }>();

  incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number): void {
    const now = Date.now();
    let window = this.#windows.get(key);
    if (window === undefined || window.startedAt + timeWindow <= now) window = { count: 0, startedAt: now };
    window.count += 1;
    // Re-inserted, so the Map's order is the order of last use.
    this.#windows.delete(key);
    this.#windows.set(key, window);
    if (this.#windows.size > FixedWindowStore.maxKeys) this.#windows.delete(this.#windows.keys().next().value as string);
    callback(null, { current: window.count, ttl: window.startedAt + timeWindow - now });
  }

  child(): FixedWindowStore {
    return new FixedWindowStore();
  }
}

/**
 * A principal is counted by its subject whichever address it calls from; an anonymous
 * caller by its address (an IPv6 one by its /64, which one host usually holds whole).
 */
function keyOf(caller: Caller, normalizeIP: (ip: string) => string): string {
  if (caller.principal !== undefined) return `${caller.principal.via}:${caller.principal.subject}`;
  if (caller.request !== undefined) return `ip:${normalizeIP(caller.request.ip)}`;
  return 'anonymous';
}
