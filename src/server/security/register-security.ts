/**
 * The service's security (docs/security.md): bearer tokens (API keys, JWTs, the
 * application's own), mutations behind the `writer` role, reads public unless configured
 * otherwise, rate limits per caller, a query cost limit, CORS and security headers.
 *
 * createService calls `registerSecurity` before the GraphQL route (its hooks must apply to
 * every route), then `secureGraphQL` once mercurius is loaded (its checks need the schema
 * and mercurius' hooks), and gives each request's context `principalOf(request)`.
 */
import type { FastifyInstance } from 'fastify';
import type { EventStore } from '../../event-store/event-store.js';
import { ValidationError } from '../../errors.js';
import { AccessRefusedError, type Authenticate, type Principal } from '../principal.js';
import { ServiceErrorCodes } from '../service-errors.js';
import type { ServiceSettings } from '../service-options.js';
import { createAuthenticate, registerAuthentication } from './authenticate.js';
import { registerCors, registerSecurityHeaders } from './http-headers.js';
import { registerJwt } from './jwt-tokens.js';
import { operationGuard, subscriptionCostGuard } from './operation-guard.js';
import { registerRateLimits, type RateLimiters } from './rate-limits.js';
import { checkSecurityOptions, type SecurityOptions, type SecuritySettings } from './security-options.js';

export type { SecurityOptions } from './security-options.js';
export { principalOf } from './authenticate.js';

/** What registerSecurity found, for secureGraphQL to use on the same app. */
const registered = new WeakMap<FastifyInstance, { security: SecuritySettings; rateLimits: RateLimiters }>();

/**
 * Registers the HTTP-level parts (before the GraphQL route): security headers, CORS, the
 * JWT verifier, the rate limits' store, and the check of every request's bearer token.
 * Returns how tokens are checked (websockets use it too).
 *
 * @throws ValidationError naming the option at fault (`options.security.jwt.secret`), or a
 * feature whose package is not installed (`options.security.cors` without `@fastify/cors`).
 */
export async function registerSecurity(app: FastifyInstance, options: SecurityOptions | undefined, settings: ServiceSettings, store: EventStore): Promise<Authenticate> {
  const security = checkSecurityOptions(options);
  // Headers and CORS first: a refusal of the token below still carries them, so a browser
  // lets the page read why it was refused.
  if (security.headers !== false) await registerSecurityHeaders(app, security.headers, settings.production);
  if (security.cors) await registerCors(app, security.cors);
  const jwt = security.jwt ? await registerJwt(app, security.jwt) : undefined;
  const rateLimits = await registerRateLimits(app, { mutations: security.mutationRateLimit, queries: security.queryRateLimit, store: security.rateLimitStore }, store);
  const authenticate = createAuthenticate({ apiKeys: security.apiKeys, jwt, verifyToken: security.verifyToken });
  registerAuthentication(app, authenticate);
  registered.set(app, { security, rateLimits });
  return authenticate;
}

/**
 * Registers the GraphQL-level parts, once mercurius is loaded: every operation is checked
 * before it runs (mutations need a writer, queries a token when so configured, the cost
 * limit, the rate limits); subscriptions, which mercurius starts without `preExecution`,
 * get the token check and the cost limit in `preSubscriptionExecution`.
 *
 * @throws ValidationError on `options.security` in production when the schema has
 * mutations, nothing can authenticate a caller, and `openMutations` is not given.
 */
export function secureGraphQL(app: FastifyInstance, _options: SecurityOptions | undefined, settings: ServiceSettings): void {
  const state = registered.get(app);
  if (state === undefined) throw new Error('secureGraphQL needs registerSecurity to have run on the same app');
  const { security, rateLimits } = state;
  const hasMutations = app.graphql.schema.getMutationType() != null;
  // Open by mistake is what is refused: an explicit false keeps them closed (principals can
  // still come from the caller's own context builder), an explicit true is a decision.
  if (settings.production && hasMutations && !security.authenticates && security.openMutations === undefined) {
    throw new ValidationError([
      {
        field: 'options.security',
        reason:
          'the schema has mutations and nothing to authenticate their callers in production: configure apiKeys (ANNALS_API_KEYS), jwt or verifyToken, or set openMutations: true to let anyone write (dangerous), or false to keep them closed',
      },
    ]);
  }
  const mutationsOpen = security.openMutations ?? !security.authenticates;
  if (hasMutations && mutationsOpen) {
    app.log.warn({ production: settings.production }, 'mutations are open: anyone who can reach the service can write (docs/security.md)');
  }
  app.graphql.addHook(
    'preExecution',
    operationGuard({ mutationsNeedWriter: !mutationsOpen, readsNeedToken: security.requireTokenForReads, queryCost: security.queryCost, rateLimits }),
  );
  if (security.requireTokenForReads) {
    // Subscriptions do not pass through preExecution; their context carries the
    // principal the connection's token proved.
    app.graphql.addHook('preSubscriptionExecution', async (_schema, _document, context) => {
      if ((context as { principal?: Principal }).principal === undefined) {
        throw new AccessRefusedError(ServiceErrorCodes.unauthenticated, 401, 'this service answers subscriptions only with a bearer token');
      }
    });
  }
  if (security.queryCost) app.graphql.addHook('preSubscriptionExecution', subscriptionCostGuard(security.queryCost));
}
