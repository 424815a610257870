/**
 * Who is calling: the principal a bearer token (an API key or a JWT) proves, and the
 * roles it holds. The security plugin (security/) finds it for each request and each
 * websocket connection; resolvers check it with {@link requireRole}.
 */
import { RequestRefusedError, ServiceErrorCodes } from './service-errors.js';

/** The roles the service itself checks: `writer` for mutations, `admin` for the admin schema. */
export const Roles = { writer: 'writer', admin: 'admin' } as const;

export interface Principal {
  /** The key's name or the token's `sub`: logged with the request, never the secret. */
  readonly subject: string;
  readonly roles: readonly string[];
  readonly via: 'api-key' | 'jwt';
}

/**
 * The principal an `Authorization` header value proves: undefined without one.
 * @throws RequestRefusedError `UNAUTHENTICATED` (401) for a token it does not accept.
 */
export type Authenticate = (authorization: string | undefined) => Promise<Principal | undefined>;

/**
 * The caller's principal when it holds `role`.
 * @throws RequestRefusedError `UNAUTHENTICATED` (401) without a principal, `FORBIDDEN` (403) without the role.
 */
export function requireRole(context: { readonly principal?: Principal | undefined }, role: string): Principal {
  const { principal } = context;
  if (principal === undefined) {
    throw new RequestRefusedError(ServiceErrorCodes.unauthenticated, 401, `this operation needs a bearer token with the '${role}' role`);
  }
  if (!principal.roles.includes(role)) {
    throw new RequestRefusedError(ServiceErrorCodes.forbidden, 403, `'${principal.subject}' lacks the '${role}' role this operation needs`);
  }
  return principal;
}
