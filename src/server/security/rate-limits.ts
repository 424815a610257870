/**
 * Rate limits per caller on GraphQL operations (mutations by default), counted by
 * `@fastify/rate-limit`'s store. Not a route hook, as the plugin is usually used: whether a
 * request is a mutation is known only once its document is parsed, and each operation of
 * a batch counts, so the GraphQL hook (operation-guard.ts) asks for each operation.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { EventStore } from '../../event-store/event-store.js';
import type { Principal } from '../principal.js';
import { RequestRefusedError, ServiceErrorCodes } from '../service-errors.js';
import { databaseRateLimitStores } from './database-rate-limit-store.js';
import { loadOptionalPackage } from './optional-package.js';
import { FixedWindowStore, rateLimitStoreClass, type RateLimitStore } from './rate-limit-store.js';
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

/** Where the counts live (docs/security.md, "Rate limits"). */
export type RateLimitBackend = 'database' | 'memory';

export interface RateLimitSetup {
  mutations: RateLimit | undefined;
  queries: RateLimit | undefined;
  /**
   * As given in `options.security.rateLimit.store`. Undefined: in the event store's
   * database, unless that is PGlite (one process, nothing to share): then in memory.
   */
  store?: RateLimitBackend | undefined;
}

/**
 * Registers the plugin (its store, no route hooks) and makes a limiter for each limit
 * given. The counts are kept in `eventStore`'s database unless `store` says `memory`;
 * without an event store, in memory.
 */
export async function registerRateLimits(app: FastifyInstance, limits: RateLimitSetup, eventStore?: EventStore): Promise<RateLimiters> {
  if (limits.mutations === undefined && limits.queries === undefined) return { mutations: undefined, queries: undefined };
  const module = await loadOptionalPackage('@fastify/rate-limit', 'options.security.rateLimit', () => import('@fastify/rate-limit'));
  // The plugin asks a key of a request; the key is the caller's, known to the hook, so the
  // hook hands the plugin a stand-in request carrying it.
  const keys = new WeakMap<object, string>();
  const keyGenerator = (request: FastifyRequest) => keys.get(request) ?? 'unknown';
  await app.register(module.default, { global: false, keyGenerator, store: storeClass(app, limits.store, eventStore) });
  const failures = countingFailures(app);
  const limiter = (kind: string, limit: RateLimit | undefined): RateLimiter | undefined => {
    if (limit === undefined) return undefined;
    const count = app.createRateLimit({ max: limit.max, timeWindow: limit.windowMs, keyGenerator });
    return async (caller) => {
      const standIn = { routeOptions: { config: {} } };
      // The kind first: in the database, every limit's counts share one table.
      keys.set(standIn, `${kind}:${keyOf(caller, module.normalizeIP)}`);
      let outcome: Awaited<ReturnType<typeof count>>;
      try {
        outcome = await count(standIn as unknown as FastifyRequest);
      } catch (error) {
        // Open, not closed: refusing every write while the counts cannot be kept would make
        // a database hiccup an outage of the service, for a limit that guards against abuse.
        failures.failed(error);
        return;
      }
      failures.counted();
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

function storeClass(app: FastifyInstance, backend: RateLimitBackend | undefined, eventStore: EventStore | undefined): new () => RateLimitStore {
  if (backend === 'memory' || (backend === undefined && eventStore === undefined)) return rateLimitStoreClass(() => new FixedWindowStore());
  if (eventStore === undefined) throw new Error("rate limits counted in the database ('database') need the event store: registerRateLimits(app, limits, store)");
  return rateLimitStoreClass(databaseRateLimitStores({ store: eventStore, inMemoryOnPGlite: backend === undefined, log: app.log }));
}

/**
 * Logs the failures to count, once when they start and once when counting works again:
 * while the database is down every operation would fail to count, and one line each would
 * bury the log.
 */
function countingFailures(app: FastifyInstance): { failed(error: unknown): void; counted(): void } {
  let failing = false;
  return {
    failed(error) {
      if (failing) return;
      failing = true;
      app.log.warn({ err: error }, 'rate limits cannot be counted: operations are let through uncounted until counting works again (docs/security.md)');
    },
    counted() {
      if (!failing) return;
      failing = false;
      app.log.info('rate limits are counted again');
    },
  };
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
