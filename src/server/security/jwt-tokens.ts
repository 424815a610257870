/**
 * JWTs as bearer tokens, checked by `@fastify/jwt` (fast-jwt underneath): the signature
 * with a shared secret or the issuer's public key, the expiry, the issuer and the
 * audience; the principal is the token's `sub` with the roles of a configurable claim.
 */
import type { FastifyInstance } from 'fastify';
import type { JWT } from '@fastify/jwt';
import { AccessRefusedError, type Principal } from '../principal.js';
import { ServiceErrorCodes } from '../service-errors.js';
import { loadOptionalPackage } from './optional-package.js';
import { securityDefaults, type JwtOptions } from './security-options.js';

/** Three base64url parts: what a token must look like to be tried as a JWT. */
const jwtShape = /^[\w-]+\.[\w-]+\.[\w-]*$/;

export function looksLikeJwt(token: string): boolean {
  return jwtShape.test(token);
}

/** The verifier's namespace on `app.jwt`: an application registering @fastify/jwt for its own use keeps `app.jwt`. */
const namespace = 'annals';

/**
 * Registers `@fastify/jwt` on `app` with `options`, and returns the check of one token:
 * its principal.
 * @throws AccessRefusedError `UNAUTHENTICATED` (the check) for a token it does not accept,
 * saying why (expired, wrong issuer, bad signature) and never quoting the token.
 */
export async function registerJwt(app: FastifyInstance, options: JwtOptions): Promise<(token: string) => Principal> {
  const { default: fastifyJwt } = await loadOptionalPackage('@fastify/jwt', 'options.security.jwt', () => import('@fastify/jwt'));
  const requireExpiry = options.requireExpiry ?? true;
  // fast-jwt checks `iss` and `aud` only when the token has them: a token without them
  // would pass an issuer check it never faced, so they become required when set.
  const requiredClaims = ['sub', ...(options.issuer ? ['iss'] : []), ...(options.audience ? ['aud'] : []), ...(requireExpiry ? ['exp'] : [])];
  await app.register(fastifyJwt, {
    namespace,
    secret: options.secret ?? { public: options.publicKey as string },
    verify: {
      ...(options.algorithms ? { algorithms: [...options.algorithms] } : {}),
      ...(options.issuer ? { allowedIss: typeof options.issuer === 'string' ? options.issuer : [...options.issuer] } : {}),
      ...(options.audience ? { allowedAud: typeof options.audience === 'string' ? options.audience : [...options.audience] } : {}),
      requiredClaims,
      clockTolerance: (options.clockToleranceSeconds ?? securityDefaults.clockToleranceSeconds) * 1000,
      // A client sends the same token with every request until it expires: verified once.
      cache: 1000,
    },
  });
  const jwt = (app.jwt as unknown as Record<string, JWT>)[namespace] as JWT;
  const rolesClaim = options.rolesClaim ?? securityDefaults.rolesClaim;
  return (token) => {
    let claims: Record<string, unknown>;
    try {
      claims = jwt.verify<Record<string, unknown>>(token);
    } catch (error) {
      throw new AccessRefusedError(ServiceErrorCodes.unauthenticated, 401, refusalOf(error));
    }
    const subject = claims.sub;
    if (typeof subject !== 'string' || subject === '') {
      throw new AccessRefusedError(ServiceErrorCodes.unauthenticated, 401, "the bearer token is not accepted: its 'sub' claim must be a non-empty string");
    }
    return { subject, roles: rolesOf(claims, rolesClaim), via: 'jwt' };
  };
}

/** Why fast-jwt refused a token, in words that quote none of it (its messages name claims and dates only). */
function refusalOf(error: unknown): string {
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (code === 'FAST_JWT_EXPIRED') return 'the bearer token has expired: get a new one';
  if (code === 'FAST_JWT_INACTIVE') return "the bearer token is not valid yet (its 'nbf' is in the future)";
  if (typeof code === 'string' && code.startsWith('FAST_JWT_') && typeof message === 'string') {
    return `the bearer token is not accepted: ${message.charAt(0).toLowerCase()}${message.slice(1)}`;
  }
  return 'the bearer token is not accepted';
}

/**
 * The roles a token's claims give: the claim named `claim` itself, else the dotted path
 * (`realm_access.roles`); an array of strings, or one string of space-separated roles
 * (OAuth's `scope`). None when absent: the token proves who, not what.
 */
export function rolesOf(claims: Record<string, unknown>, claim: string): string[] {
  let value: unknown = claims[claim];
  if (value === undefined && claim.includes('.')) {
    value = claim.split('.').reduce<unknown>((at, key) => (typeof at === 'object' && at !== null ? (at as Record<string, unknown>)[key] : undefined), claims);
  }
  if (typeof value === 'string') return value.split(/\s+/).filter((role) => role !== '');
  if (Array.isArray(value)) return value.filter((role): role is string => typeof role === 'string');
  return [];
}
