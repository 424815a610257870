/**
 * From an `Authorization` header to a principal: the token after `Bearer`, tried as an
 * API key, then as a JWT, then by the application's `verifyToken`. A token none of them
 * accepts is refused (401), whatever the request: a client that sends a token means to
 * be someone, and being served as anonymous instead would hide its mistake.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AccessRefusedError, type Authenticate, type Principal } from '../principal.js';
import { ServiceErrorCodes } from '../service-errors.js';
import { apiKeyMatcher } from './api-keys.js';
import { looksLikeJwt } from './jwt-tokens.js';
import type { ApiKey, VerifyToken } from './security-options.js';

export interface Authenticators {
  apiKeys: readonly ApiKey[];
  jwt: ((token: string) => Principal) | undefined;
  verifyToken: VerifyToken | undefined;
}

/** RFC 6750's challenge, on every 401 a token caused. */
export const bearerChallenge = 'Bearer realm="annals"';

const bearer = /^Bearer(?: +(.*))?$/i;

/** What verifyToken must return: the checks read `roles`, the logs `subject`. */
const principalSchema = z.object({ subject: z.string().min(1), roles: z.array(z.string()), via: z.enum(['api-key', 'jwt', 'custom']) });

/** verifyToken's answer, checked: a malformed principal is the application's bug (a 500, logged), not the caller's. */
async function verified(verifyToken: VerifyToken, token: string): Promise<Principal | undefined> {
  const principal = await verifyToken(token);
  if (principal === undefined) return undefined;
  const checked = principalSchema.safeParse(principal);
  if (!checked.success) {
    const [issue] = checked.error.issues;
    throw new TypeError(`options.security.verifyToken returned no principal { subject, roles, via }: ${issue?.path.join('.') || 'it'} ${issue?.message ?? 'is malformed'}`);
  }
  return principal;
}

function refused(reason: string): AccessRefusedError {
  return new AccessRefusedError(ServiceErrorCodes.unauthenticated, 401, reason);
}

/** How the service checks a header: what createService gives websockets too. */
export function createAuthenticate(authenticators: Authenticators): Authenticate {
  const matchApiKey = apiKeyMatcher(authenticators.apiKeys);
  const { jwt, verifyToken } = authenticators;
  const none = authenticators.apiKeys.length === 0 && jwt === undefined && verifyToken === undefined;
  return async (authorization) => {
    if (authorization === undefined) return undefined;
    const match = bearer.exec(authorization.trim());
    // Another scheme (a proxy's Basic auth) is not addressed to this service.
    if (match === null) return undefined;
    const token = match[1]?.trim() ?? '';
    if (token === '') throw refused("the Authorization header has no token after 'Bearer'");
    if (none) throw refused('this service has no API keys or JWT configured, so it accepts no bearer token: send none');
    const key = matchApiKey(token);
    if (key !== undefined) return key;
    if (jwt !== undefined && looksLikeJwt(token)) {
      // With a verifyToken as well, a JWT this service cannot verify may be one of the
      // application's (another issuer's): it gets its chance before the refusal.
      if (verifyToken === undefined) return jwt(token);
      try {
        return jwt(token);
      } catch (error) {
        const principal = await verified(verifyToken, token);
        if (principal !== undefined) return principal;
        throw error;
      }
    }
    const principal = verifyToken === undefined ? undefined : await verified(verifyToken, token);
    if (principal !== undefined) return principal;
    throw refused(verifyToken !== undefined ? 'the bearer token is not accepted' : `the bearer token is not accepted: it is no API key of this service${jwt === undefined ? '' : ' nor a JWT'}`);
  };
}

const principals = new WeakMap<FastifyRequest, Principal>();

/** The principal the request's bearer token proved, if any. */
export function principalOf(request: FastifyRequest): Principal | undefined {
  return principals.get(request);
}

/**
 * Checks every request's `Authorization` header as it arrives, before its body is read:
 * a bad token is refused at once (401 with `WWW-Authenticate`), a good one's principal is
 * kept for the request's context, and the request's log lines name its subject.
 */
export function registerAuthentication(app: FastifyInstance, authenticate: Authenticate): void {
  // A callback hook: a request without a token (most reads) passes without a promise.
  app.addHook('onRequest', (request, reply, done) => {
    const { authorization } = request.headers;
    if (authorization === undefined) return done();
    authenticate(authorization).then(
      (principal) => {
        if (principal !== undefined) {
          principals.set(request, principal);
          // Who did it, on every line the request logs (its resolvers' too); never the token.
          const log = request.log.child({ principal: principal.subject });
          request.log = log;
          reply.log = log;
        }
        done();
      },
      (error: unknown) => {
        if (error instanceof AccessRefusedError) reply.header('www-authenticate', `${bearerChallenge}, error="invalid_token"`);
        done(error as Error);
      },
    );
  });
}
