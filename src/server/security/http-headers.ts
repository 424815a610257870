/**
 * The headers that keep browsers safe with the service: security headers on every answer
 * (decided by `@fastify/helmet`, once), and cross-origin access for the origins listed
 * (`@fastify/cors`).
 */
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { minPositionHeader } from '../read-your-writes.js';
import { correlationIdHeader, requestIdHeader } from '../request-ids.js';
import { loadOptionalPackage } from './optional-package.js';
import { dependsOnRequest, headerChanges, helmetHeaders } from './precomputed-headers.js';
import { securityDefaults, type CorsOptions } from './security-options.js';

/**
 * The service answers JSON, never a page: nothing in an answer is to be loaded, run or
 * framed, which this policy says.
 */
const apiContentSecurityPolicy = {
  useDefaults: false,
  directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
};

/**
 * helmet's headers that tell a browser how to treat a *page* it renders (its window's
 * opener, its agent cluster, the referrer of its links, DNS prefetching of its links, IE8
 * downloads, Flash and Acrobat policies, the old XSS auditor). A JSON answer is no page,
 * so they are off on the API's answers: what is left is what OWASP's REST Security Cheat
 * Sheet lists for APIs (CSP, X-Frame-Options, HSTS, nosniff) and the cross-origin
 * resource policy, which keeps other sites' pages from loading the answers. Each header
 * costs every answer its bytes and Node's checks of it: the twelve cost a read about a
 * tenth of its time (docs/benchmarks.md). GraphiQL's page (development) gets them all.
 */
const pageOnlyHeaders = [
  'crossOriginOpenerPolicy',
  'originAgentCluster',
  'referrerPolicy',
  'xDnsPrefetchControl',
  'xDownloadOptions',
  'xPermittedCrossDomainPolicies',
  'xXssProtection',
] as const;

/** mercurius' GraphiQL (development only) is a page: its own routes, without a content security policy. */
const graphiqlRoutes = /^\/graphiql(\/|$)/;

/** helmet's options: the caller's `options` over the defaults above. */
export function securityHeaderOptions(options: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  return {
    contentSecurityPolicy: apiContentSecurityPolicy,
    // What `frame-ancestors 'none'` says, for browsers that only read X-Frame-Options.
    frameguard: { action: 'deny' },
    ...Object.fromEntries(pageOnlyHeaders.map((header) => [header, false])),
    ...options,
  };
}

/**
 * What GraphiQL's routes tell helmet over the API's options: no content security policy
 * (the page loads React and GraphiQL from unpkg.com), and the page's headers at helmet's
 * defaults, unless the caller's options set them.
 */
function graphiqlHelmetOptions(options: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return { ...Object.fromEntries(pageOnlyHeaders.filter((header) => !(header in options)).map((header) => [header, true])), contentSecurityPolicy: false };
}

/**
 * Security headers on every answer, as helmet sets them with `options` over the defaults
 * above. In development, GraphiQL's routes get no content security policy: the page loads
 * React and GraphiQL from unpkg.com, inline styles and a service worker, which the API's
 * policy forbids, and it exists only where nothing is deployed (introspection and GraphiQL
 * are off in production).
 *
 * helmet computes the headers once, here (precomputed-headers.ts); every request then
 * only copies them. Options that make them differ per request (`enableCSPNonces`, see
 * dependsOnRequest) get `@fastify/helmet` registered as it is, computing them per request.
 *
 * @throws ValidationError naming `options.security.headers` when helmet refuses them.
 */
export async function registerSecurityHeaders(app: FastifyInstance, options: Readonly<Record<string, unknown>>, production: boolean): Promise<void> {
  const { default: helmet } = await loadOptionalPackage('@fastify/helmet', 'options.security.headers', () => import('@fastify/helmet'));
  const helmetOptions = securityHeaderOptions(options);
  if (dependsOnRequest(helmetOptions)) {
    if (!production) {
      // helmet reads a route's `config.helmet`; the GraphiQL routes are mercurius', added later.
      app.addHook('onRoute', (route) => {
        if (typeof route.url === 'string' && graphiqlRoutes.test(route.url)) {
          route.config = { ...(route.config as object | undefined), helmet: graphiqlHelmetOptions(options) } as typeof route.config;
        }
      });
    }
    await app.register(helmet, helmetOptions);
    return;
  }
  const api = await helmetHeaders(helmet, helmetOptions);
  // One hook for every route, 404s included, ahead of authentication's: a refusal carries them.
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(api);
    done();
  });
  if (!production) {
    const graphiql = headerChanges(api, await helmetHeaders(helmet, { ...helmetOptions, ...graphiqlHelmetOptions(options) }));
    // A route's own hooks run after the app's: GraphiQL's routes amend the API's headers,
    // and no other route pays for telling them apart.
    const amend: onRequestHookHandler = (_request, reply, done) => {
      for (const name of graphiql.remove) reply.removeHeader(name);
      reply.headers(graphiql.set);
      done();
    };
    app.addHook('onRoute', (route) => {
      if (typeof route.url === 'string' && graphiqlRoutes.test(route.url)) {
        route.onRequest = [...(route.onRequest === undefined ? [] : [route.onRequest].flat()), amend] as typeof route.onRequest;
      }
    });
  }
}

/**
 * The request headers a browser may send across origins: the token, the read-your-writes
 * position, and the ids that tie a request to its logs.
 */
const allowedHeaders = ['content-type', 'authorization', minPositionHeader, requestIdHeader, correlationIdHeader];
/** The answer's headers a script may read: the request id (to report a problem), and the rate limit's. */
const exposedHeaders = [requestIdHeader, 'retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'];

/** Registers CORS for `options.origins`; an origin not listed gets no `Access-Control-Allow-Origin`, so its browser refuses the answer. */
export async function registerCors(app: FastifyInstance, options: CorsOptions): Promise<void> {
  const { default: cors } = await loadOptionalPackage('@fastify/cors', 'options.security.cors', () => import('@fastify/cors'));
  await app.register(cors, {
    origin: options.origins === '*' ? '*' : [...options.origins],
    methods: ['GET', 'POST'],
    allowedHeaders,
    exposedHeaders,
    credentials: options.credentials ?? false,
    maxAge: options.maxAgeSeconds ?? securityDefaults.corsMaxAgeSeconds,
    // Preflights are answered by the hook, before authentication: a browser sends none with them.
    strictPreflight: true,
  });
}
