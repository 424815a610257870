/**
 * The security headers `@fastify/helmet` sets, computed once at start rather than on every
 * request: registered on every app, helmet rebuilds its middleware and reparses the content
 * security policy per request (docs/benchmarks.md, "Where the read's time goes"), though a
 * JSON API's headers are the same on every answer. helmet still decides the set: it runs
 * once, on a throwaway app, with the options the service would give it.
 */
import Fastify from 'fastify';
import type fastifyHelmet from '@fastify/helmet';
import { ValidationError } from '../../errors.js';

/** Header names (lower case) and the values helmet gave them. */
export type HeaderSet = Readonly<Record<string, string | number | string[]>>;

type Helmet = typeof fastifyHelmet;

/**
 * Whether helmet's headers can differ from one request to the next, so computing them once
 * would be wrong: per-request nonces (`enableCSPNonces`), a policy directive whose value is
 * a function of the request, or `global: false` (helmet then applies only to routes asking
 * for it in their own options).
 */
export function dependsOnRequest(options: Readonly<Record<string, unknown>>): boolean {
  if (options.enableCSPNonces === true || options.global === false) return true;
  const policy = options.contentSecurityPolicy;
  if (typeof policy !== 'object' || policy === null) return false;
  const directives = (policy as { directives?: unknown }).directives;
  if (typeof directives !== 'object' || directives === null) return false;
  return Object.values(directives).some((value) => typeof value === 'function' || (Array.isArray(value) && value.some((entry) => typeof entry === 'function')));
}

/**
 * The headers helmet sets with `options`, read in a hook that runs right after helmet's on
 * an app with nothing else: all it finds there is helmet's, so no list of fastify's own
 * headers (content-type, date) is needed to tell them apart.
 *
 * @throws ValidationError naming `options.security.headers` when helmet refuses the
 * options (an unquoted `'self'` in a directive, say): at start, not on every request.
 */
export async function helmetHeaders(helmet: Helmet, options: Readonly<Record<string, unknown>>): Promise<HeaderSet> {
  const probe = Fastify();
  let headers: HeaderSet | undefined;
  let refusal: unknown;
  try {
    await probe.register(helmet, options);
    probe.addHook('onRequest', (_request, reply, done) => {
      headers = { ...reply.getHeaders() } as HeaderSet;
      done();
    });
    probe.setErrorHandler((error, _request, reply) => {
      refusal = error;
      void reply.code(500).send();
    });
    probe.get('/', () => ({}));
    await probe.inject({ method: 'GET', url: '/' });
  } finally {
    await probe.close();
  }
  if (headers === undefined) {
    const reason = refusal instanceof Error ? refusal.message : String(refusal);
    throw new ValidationError([{ field: 'options.security.headers', reason: `helmet refused them: ${reason}` }]);
  }
  return Object.freeze(headers);
}

/**
 * How to turn an answer carrying `from` into one carrying `to`: the headers to remove, and
 * those to set (new or with another value).
 */
export function headerChanges(from: HeaderSet, to: HeaderSet): { remove: string[]; set: HeaderSet } {
  const remove = Object.keys(from).filter((name) => !(name in to));
  const set = Object.fromEntries(Object.entries(to).filter(([name, value]) => String(from[name]) !== String(value)));
  return { remove, set };
}
