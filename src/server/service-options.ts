import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { GraphQLSchema } from 'graphql';
import type { IResolvers, MercuriusContext, MercuriusLoaders } from 'mercurius';
import { z } from 'zod';
import type { EventStore } from '../event-store/event-store.js';
import type { Outbox } from '../outbox/define-outbox.js';
import { parseInput } from '../validation.js';
import { isGraphQLSchema } from './graphql-realm.js';
import type { ReadinessCheck } from './readiness.js';
import type { ReadYourWrites } from './read-your-writes.js';
import type { MetricsOptions } from './metrics/register-metrics.js';
import type { Principal } from './principal.js';
import type { SecurityOptions } from './security/register-security.js';
import type { SubscriptionOptions } from './subscriptions/subscription-options.js';

/** What every resolver gets as its context, whatever the caller's builder adds. */
export interface ServiceContext {
  /** The store the service was given. */
  readonly store: EventStore;
  /** This request's id: the `x-request-id` a proxy set, else a new UUID. Echoed in the answer's `x-request-id`. */
  readonly requestId: string;
  /**
   * The caller's `x-correlation-id`, else `requestId`. With `requestId` as the causation
   * id, what a mutation stamps on the events it appends:
   * `handleCommand(store, aggregate, id, command, { correlationId, causationId: requestId })`.
   */
  readonly correlationId: string;
  /** Aborts when the request passes `limits.requestTimeoutMs` or the client goes away. */
  readonly signal: AbortSignal;
  /** The request's logger: its lines carry the request id (and correlation id). */
  readonly log: FastifyBaseLogger;
  /** The position the client sent in the `Annals-Min-Position` header (its last write's), if any. */
  readonly minPosition: bigint | undefined;
  /**
   * Waits until the projections a resolver reads have processed the client's write
   * (`minPosition`, or a `minPosition` argument given here), up to
   * `limits.consistencyTimeoutMs`; throws GraphQL errors with `CONSISTENCY_*` codes
   * otherwise (docs/server.md, "Read your writes"). Resolves at once without a position.
   */
  readonly readYourWrites: ReadYourWrites;
  /** Who is calling, as the request's bearer token proved; undefined without one (docs/server.md, "Security"). */
  readonly principal: Principal | undefined;
  /** Counts events a mutation appended, for `/metrics` (commandMutations calls it). */
  readonly eventsAppended: (category: string, count: number) => void;
}

/**
 * What a resolver gets: the base context, mercurius' own (`reply`, `app`), and whatever
 * the context builder added. A resolver may declare less (`context: ServiceContext`).
 */
export type ResolverContext = ServiceContext & MercuriusContext & Record<string, unknown>;

/**
 * Adds to the context of each request (a user read from a token, loaders): it gets the
 * request and the base context, and what it returns is merged over the base.
 */
export type ContextBuilder = (request: FastifyRequest, base: ServiceContext) => Record<string, unknown> | Promise<Record<string, unknown>>;

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Bounds on what one request may cost. Every one has a default (serviceDefaults.limits). */
export interface ServiceLimits {
  /** Largest request body, in bytes (fastify's bodyLimit; default 1 MiB). Past it: 413 `BODY_TOO_LARGE`. */
  bodyLimitBytes?: number;
  /** Deepest selection nesting (mercurius' queryDepth; default 10). Past it: 400 `QUERY_TOO_DEEP`. */
  queryDepth?: number;
  /** Most lexical tokens in one query (graphql's maxTokens; default 5,000). Past it: 400 `QUERY_TOO_LARGE`. */
  maxQueryTokens?: number;
  /** From a request's headers to its answer (default 15 s). Past it: 503 `REQUEST_TIMEOUT`. */
  requestTimeoutMs?: number;
  /** Operations in one batched request; 0 (the default) refuses batches (400 `BATCHED_QUERIES_DISABLED`). */
  maxBatchedQueries?: number;
  /** How long `/readyz` waits for each check (default 2 s). */
  readinessTimeoutMs?: number;
  /** How long `close()` lets requests in flight finish before cutting their connections (default 20 s). */
  shutdownTimeoutMs?: number;
  /** How long `context.readYourWrites` waits for the read models (default 5 s). Past it: `CONSISTENCY_TIMEOUT`. */
  consistencyTimeoutMs?: number;
}

export interface ServiceOptions {
  /** The event store resolvers use (`context.store`) and `/readyz` checks. The service never closes it. */
  store: EventStore;
  /** The GraphQL schema: SDL (one string or several, joined) with `resolvers`, or an executable GraphQLSchema. */
  schema: string | readonly string[] | GraphQLSchema;
  /** Resolvers by type and field, as mercurius takes them. */
  // `any` parents, mercurius' own default: each type's resolvers declare their parent's shape.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  resolvers?: IResolvers<any, ResolverContext>;
  /** mercurius loaders: batched field resolvers (one query for a page's N rows). */
  loaders?: MercuriusLoaders<ResolverContext>;
  /** Adds to each request's context. */
  context?: ContextBuilder;
  /** A pino (or any fastify-compatible) logger, or the level of one the service makes (default `info`). */
  logger?: FastifyBaseLogger | LogLevel;
  limits?: ServiceLimits;
  /**
   * `production` hides unknown errors' messages and every stack, and turns introspection
   * and GraphiQL off. Default: `production` when NODE_ENV is `production`, else `development`.
   */
  environment?: 'development' | 'production';
  /** Checks `/readyz` runs beside the store's own (projection workers running, say). */
  readinessChecks?: readonly ReadinessCheck[];
  /** Bearer tokens, roles, rate limits, CORS and security headers (docs/server.md, "Security"). */
  security?: SecurityOptions;
  /** Prometheus metrics on `/metrics` (on by default; false turns them off). */
  metrics?: MetricsOptions | false;
  /** GraphQL subscriptions over websockets (docs/subscriptions.md; on by default; false turns them off). */
  subscriptions?: SubscriptionOptions | false;
  /**
   * The outboxes (defineOutbox) whose status `/metrics` and the admin schema report, and
   * whose parked messages the admin schema retries and skips. The service runs no relay:
   * run it elsewhere, or in this process with `metrics: outboxRelayMetrics(service.app)`
   * so that `/metrics` counts what it publishes (docs/operations.md, "The outbox").
   */
  outboxes?: readonly Outbox[];
}

/** The defaults, and why they are what they are (docs/server.md, "Limits"). */
export const serviceDefaults = {
  limits: {
    bodyLimitBytes: 1024 * 1024,
    // A Relay page of a page (user → likedPosts → edges → node → likedBy → edges → node → id)
    // is 8 deep; 10 leaves room for that and refuses the recursive abuse.
    queryDepth: 10,
    // Real queries have hundreds; validation's cost grows faster than the token count.
    maxQueryTokens: 5000,
    // Above read-your-writes' default wait (5 s), below the shutdown timeout, so a drain
    // outlasts any request still in time.
    requestTimeoutMs: 15_000,
    maxBatchedQueries: 0,
    readinessTimeoutMs: 2000,
    // Below Kubernetes' default grace period (30 s) before it kills the process.
    shutdownTimeoutMs: 20_000,
    // Projections usually follow within milliseconds; one that is seconds behind is better
    // answered with a retryable error than by holding the request (and a connection) longer.
    consistencyTimeoutMs: 5000,
  },
} as const;

/** The options once checked, with every default filled in. */
export interface ServiceSettings {
  production: boolean;
  limits: Required<ServiceLimits>;
  /** The caller's logger, or the level of the one fastify makes. */
  logger: { instance: FastifyBaseLogger } | { level: LogLevel };
  /** `options.outboxes`, checked (none: empty). */
  outboxes: readonly Outbox[];
}

const maxTimerMs = 2 ** 31 - 1;
const milliseconds = z.number().int().positive().max(maxTimerMs);
const isFunction = (value: unknown): boolean => typeof value === 'function';

const storeSchema = z.custom<EventStore>(
  (value) =>
    typeof value === 'object' && value !== null && typeof (value as EventStore).schema === 'string' && isFunction((value as EventStore).withTransaction),
  { error: 'must be an EventStore (createEventStore)' },
);

const loggerSchema = z.union(
  [
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    z.custom<FastifyBaseLogger>((value) => typeof value === 'object' && value !== null && ['info', 'error', 'child'].every((m) => isFunction((value as Record<string, unknown>)[m]))),
  ],
  { error: 'must be a pino logger or a level (fatal, error, warn, info, debug, trace, silent)' },
);

// Duck-typed like the store: an outbox of another copy of the package is as good.
const outboxSchema = z.custom<Outbox>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Outbox).name === 'string' &&
    typeof (value as Outbox).consumerName === 'string' &&
    (value as Outbox).destinations instanceof Map &&
    isFunction((value as Outbox).close),
  { error: 'must be an outbox (defineOutbox)' },
);

/** A readiness check: a name fit for a JSON report and a log line, and a function. */
export const readinessCheckSchema = z.strictObject({
  name: z.string().regex(/^[\w.-]{1,64}$/, { error: 'must be 1 to 64 letters, digits, -, _ or .' }),
  check: z.custom<ReadinessCheck['check']>(isFunction, { error: 'must be a function returning a promise' }),
});

const optionsSchema = z.strictObject({
  store: storeSchema,
  schema: z.union(
    [z.string().trim().min(1), z.array(z.string()).min(1), z.custom<GraphQLSchema>(isGraphQLSchema)],
    { error: 'must be GraphQL SDL (a string or an array of strings) or a GraphQLSchema' },
  ),
  resolvers: z.record(z.string(), z.unknown(), { error: 'must be an object of resolvers by type' }).optional(),
  loaders: z.record(z.string(), z.unknown(), { error: 'must be an object of loaders by type' }).optional(),
  context: z.custom<ContextBuilder>(isFunction, { error: 'must be a function (request, base) => extra context' }).optional(),
  logger: loggerSchema.optional(),
  limits: z
    .strictObject({
      bodyLimitBytes: z.number().int().positive().optional(),
      queryDepth: z.number().int().min(1).max(1000).optional(),
      maxQueryTokens: z.number().int().min(1).optional(),
      requestTimeoutMs: milliseconds.optional(),
      maxBatchedQueries: z.number().int().min(0).max(1000).optional(),
      readinessTimeoutMs: milliseconds.optional(),
      shutdownTimeoutMs: milliseconds.optional(),
      consistencyTimeoutMs: milliseconds.optional(),
    })
    .optional(),
  environment: z.enum(['development', 'production']).optional(),
  readinessChecks: z.array(readinessCheckSchema).optional(),
  // Each checked, field by field, where it is used (security/, metrics/, subscriptions/).
  security: z.unknown().optional(),
  metrics: z.unknown().optional(),
  subscriptions: z.unknown().optional(),
  outboxes: z
    .array(outboxSchema)
    .refine((list) => new Set(list.map((outbox) => outbox.name)).size === list.length, { error: 'names an outbox twice' })
    .optional(),
});

/**
 * Checks `options` and fills in the defaults.
 *
 * @throws ValidationError naming the field (`options.limits.queryDepth`, `options.store`).
 */
export function checkServiceOptions(options: ServiceOptions, env: Readonly<Record<string, string | undefined>> = process.env): ServiceSettings {
  const checked = parseInput(optionsSchema, options, 'options');
  const environment = checked.environment ?? (env.NODE_ENV === 'production' ? 'production' : 'development');
  const logger = options.logger ?? 'info';
  return {
    production: environment === 'production',
    limits: { ...serviceDefaults.limits, ...checked.limits },
    logger: typeof logger === 'string' ? { level: logger } : { instance: logger },
    outboxes: options.outboxes ?? [],
  };
}
