import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import mercurius from 'mercurius';
import { ValidationError } from '../errors.js';
import { batchGuard } from './batched-queries.js';
import { operationNameInQueryText } from './compiled-queries.js';
import { registerDrainOnClose } from './drain-on-close.js';
import { eventStoreReadiness } from './event-store-readiness.js';
import { createErrorFormatter } from './graphql-errors.js';
import { isGraphQLError } from './graphql-realm.js';
import { registerHealthRoutes } from './health-routes.js';
import { registerHttpErrorHandler } from './http-errors.js';
import { noIntrospection } from './introspection.js';
import { defaultHost, defaultPort, type ListenOptions } from './listen-environment.js';
import type { ReadinessCheck } from './readiness.js';
import { minPositionGuard } from './read-your-writes.js';
import { RequestContext, withBuilderFields, type SharedContext } from './request-context.js';
import { registerRequestDeadline } from './request-deadline.js';
import { requestIdHeader, requestIdOf, requestLogger } from './request-ids.js';
import { parseInput } from '../validation.js';
import { registerMetrics } from './metrics/register-metrics.js';
import { attachOutboxes } from './admin/service-outboxes.js';
import { countAppendedEvents } from './metrics/service-metrics.js';
import { markFailedOperations } from './metrics/request-metrics.js';
import type { Authenticate } from './principal.js';
import { registerSecurity, secureGraphQL } from './security/register-security.js';
import { subscriptionOptions } from './subscriptions/subscription-options.js';
import { checkServiceOptions, readinessCheckSchema, type ServiceOptions, type ServiceSettings } from './service-options.js';

/** The GraphQL service: a fastify app serving `/graphql`, `/healthz` and `/readyz`. */
export interface Service {
  /**
   * The fastify instance, for what the service does not do itself: more routes or
   * plugins may be registered until `listen()`.
   */
  readonly app: FastifyInstance;
  /** The service's logger (requests log through children of it). */
  readonly log: FastifyBaseLogger;
  /** `http://host:port` once listening; undefined before. */
  readonly url: string | undefined;
  /** Starts serving; resolves with the URL. Defaults: port 4000 on 127.0.0.1 (listenOptionsFromEnvironment reads PORT and HOST). */
  listen(options?: Partial<ListenOptions>): Promise<string>;
  /**
   * Stops accepting connections, answers 503 to requests arriving on open ones, lets the
   * requests in flight finish (up to `limits.shutdownTimeoutMs`, then cuts their
   * connections), and resolves once the server is closed. Safe to call more than once.
   *
   * It does not close the store: the store belongs to whoever created it, who may share
   * it with workers that outlive the server, and closes it after this resolves (a request
   * in flight may still be using it until then).
   */
  close(): Promise<void>;
  /** Adds a check `/readyz` runs from now on. @throws ValidationError (`check.name`) for a name taken or malformed. */
  addReadinessCheck(check: ReadinessCheck): void;
}

/**
 * Creates the service on fastify and mercurius: the schema and resolvers given, a context
 * with the store and the request's ids (ServiceContext), errors mapped to codes
 * (docs/server.md), limits on every request, health and readiness probes.
 *
 * @throws ValidationError naming the option at fault: `options.limits.queryDepth`,
 * `options.schema` (SDL that does not parse or is not a valid schema), `options.resolvers`
 * (a resolver for a type or field the schema does not have).
 *
 * @example
 * ```ts
 * const store = createEventStore({ connectionString: process.env.DATABASE_URL! });
 * const service = await createService({
 *   store,
 *   schema: 'type Query { head: String! }',
 *   resolvers: { Query: { head: async (_root, _args, { store }) => String(await store.headPosition()) } },
 * });
 * console.log(await service.listen(listenOptionsFromEnvironment()));
 * // on SIGTERM: await service.close(); await store.close();
 * ```
 */
export async function createService(options: ServiceOptions): Promise<Service> {
  const settings = checkServiceOptions(options);
  const checks = readinessChecks(options);
  const app = createApp(settings);
  attachOutboxes(app, settings.outboxes);
  registerHealthRoutes(app, { checks: () => [...checks.values()], timeoutMs: settings.limits.readinessTimeoutMs, production: settings.production });
  try {
    // Security and metrics hook into every route, so they come before the GraphQL one.
    const authenticate = await registerSecurity(app, options.security, settings, options.store);
    await registerMetrics(app, options.store, options.metrics, settings);
    await registerGraphQL(app, options, settings, authenticate);
    secureGraphQL(app, options.security, settings);
  } catch (error) {
    await app.close().catch(() => {});
    throw error;
  }

  let url: string | undefined;
  let closed: Promise<void> | undefined;
  return {
    app,
    log: app.log,
    get url() {
      return url;
    },
    async listen(where = {}) {
      try {
        url = await app.listen({ port: where.port ?? defaultPort, host: where.host ?? defaultHost });
      } catch (error) {
        // mercurius checks the schema as a whole (a missing Query type) only when the app is ready.
        throw schemaError(error);
      }
      return url;
    },
    close() {
      closed ??= app.close();
      return closed;
    },
    addReadinessCheck(check) {
      addCheck(checks, parseInput(readinessCheckSchema, check, 'check'), 'check.name');
    },
  };
}

function createApp(settings: ServiceSettings): FastifyInstance {
  const { limits } = settings;
  const app = Fastify({
    ...('instance' in settings.logger ? { loggerInstance: settings.logger.instance } : { logger: { level: settings.logger.level } }),
    bodyLimit: limits.bodyLimitBytes,
    // Node's own limit on receiving a request, headers included (fastify turns it off by
    // default); it is checked every 30 s only, so the deadline hook is the precise one.
    requestTimeout: limits.requestTimeoutMs,
    genReqId: requestIdOf,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    childLoggerFactory: requestLogger,
    return503OnClosing: true,
  });
  app.addHook('onRequest', (request, reply, done) => {
    reply.header(requestIdHeader, request.id);
    done();
  });
  registerHttpErrorHandler(app, settings.production);
  registerRequestDeadline(app, limits.requestTimeoutMs);
  registerDrainOnClose(app, limits.shutdownTimeoutMs);
  return app;
}

async function registerGraphQL(app: FastifyInstance, options: ServiceOptions, settings: ServiceSettings, authenticate: Authenticate): Promise<void> {
  const { limits, production } = settings;
  const contexts = new WeakMap<FastifyRequest, RequestContext>();
  // What does not depend on the request is made once, here.
  const shared: SharedContext = {
    store: options.store,
    eventsAppended: (category, count) => countAppendedEvents(app, category, count),
    consistency: { store: options.store, timeoutMs: limits.consistencyTimeoutMs },
  };
  // The caller's builder runs in a hook, once: what it throws then goes through the
  // route's error handler to the formatter like any error. Run from mercurius' `context`
  // instead, a throw would make mercurius call it a second time to format the error.
  const buildCallerContext = async (request: FastifyRequest) => {
    if (!options.context) return;
    const base = new RequestContext(request, shared);
    contexts.set(request, withBuilderFields(base, await options.context(request, base)));
  };
  const buildContext = (request: FastifyRequest) => contexts.get(request) ?? new RequestContext(request, shared);
  app.register(mercurius, {
    schema: typeof options.schema === 'string' || !Array.isArray(options.schema) ? options.schema : [...options.schema],
    ...(options.resolvers ? { resolvers: options.resolvers } : {}),
    ...(options.loaders ? { loaders: options.loaders } : {}),
    path: '/graphql',
    // Documents run compiled from their second use; see compiled-queries.ts for the hook
    // this needs.
    jit: 1,
    context: buildContext,
    // Marks failed operations for the request metrics (metrics off: a mark nobody reads).
    errorFormatter: markFailedOperations(createErrorFormatter(production)),
    queryDepth: limits.queryDepth,
    allowBatchedQueries: limits.maxBatchedQueries > 0,
    graphiql: !production,
    subscription: subscriptionOptions({ app, store: options.store, options: options.subscriptions, settings, authenticate }),
    validationRules: production ? [noIntrospection] : [],
    graphql: { parseOptions: { maxTokens: limits.maxQueryTokens } },
    additionalRouteOptions: {
      preValidation: [batchGuard(limits.maxBatchedQueries), minPositionGuard, operationNameInQueryText],
      // Only with a builder: an async hook that does nothing still costs every request a promise.
      ...(options.context ? { preHandler: buildCallerContext } : {}),
    },
  } as mercurius.MercuriusOptions);
  try {
    // Loads mercurius now, so SDL that does not parse or a resolver of a field the schema
    // lacks fails here, named, rather than at listen(); routes can still be added to `app`.
    await app.after();
  } catch (error) {
    throw schemaError(error);
  }
}

/** mercurius' errors about what it was given, as the ValidationError naming the option. */
function schemaError(error: unknown): unknown {
  if (isGraphQLError(error)) return new ValidationError([{ field: 'options.schema', reason: error.message }]);
  const findings = (error as { code?: unknown; errors?: unknown }).errors;
  if ((error as { code?: unknown }).code === 'MER_ERR_GQL_INVALID_SCHEMA' && Array.isArray(findings)) {
    return new ValidationError(findings.map((finding: Error) => ({ field: 'options.schema', reason: finding.message })));
  }
  if ((error as { code?: unknown }).code === 'MER_ERR_INVALID_OPTS' && /Cannot find (field|type)/.test((error as Error).message)) {
    return new ValidationError([{ field: 'options.resolvers', reason: (error as Error).message.replace(/^Invalid options: /, '') }]);
  }
  return error;
}

/** The checks by name: the store's first, then the options'. */
function readinessChecks(options: ServiceOptions): Map<string, ReadinessCheck> {
  const checks = new Map<string, ReadinessCheck>();
  addCheck(checks, eventStoreReadiness(options.store), 'check.name');
  options.readinessChecks?.forEach((check, index) => addCheck(checks, check, `options.readinessChecks[${index}].name`));
  return checks;
}

function addCheck(checks: Map<string, ReadinessCheck>, check: ReadinessCheck, field: string): void {
  if (checks.has(check.name)) throw new ValidationError([{ field, reason: `a readiness check named '${check.name}' is already registered` }]);
  checks.set(check.name, check);
}
