/**
 * Who is calling: the principal a bearer token (an API key or a JWT) proves, and the
 * roles it holds. The security plugin (security/) finds it for each request and each
 * websocket connection; resolvers check it with {@link requireRole}.
 */
import { RequestRefusedError, ServiceErrorCodes } from './service-errors.js';

/**
 * The roles the service itself checks: `writer` for mutations, `admin` for the admin
 * schema. `admin` holds every right of `writer` too (an operator who may rebuild a read
 * model may also send a command); other role names are the application's own, and imply
 * nothing.
 */
export const Roles = { writer: 'writer', admin: 'admin' } as const;

export interface Principal {
  /** The key's name or the token's `sub`: logged with the request, never the secret. */
  readonly subject: string;
  readonly roles: readonly string[];
  readonly via: 'api-key' | 'jwt' | 'custom';
}

/**
 * The principal an `Authorization` header value proves: undefined without one (or with a
 * scheme other than `Bearer`, which belongs to something else, a proxy's Basic auth say).
 * @throws RequestRefusedError `UNAUTHENTICATED` (401) for a token it does not accept.
 */
export type Authenticate = (authorization: string | undefined) => Promise<Principal | undefined>;

/**
 * A refusal for want of a token or a role. Thrown by a resolver, the request still runs
 * (the field is null, 200) and the code reaches the client through `extensions`, which the
 * error formatter passes through as an error's own; thrown before anything runs (the
 * mutation gate), the request is refused with `statusCode`.
 *
 * @example
 * ```ts
 * try { requireRole(context, Roles.admin); } catch (error) { if (error instanceof AccessRefusedError) ... }
 * ```
 */
export class AccessRefusedError extends RequestRefusedError {
  get extensions(): { code: string } {
    return { code: this.code };
  }
}

/**
 * Whether `principal` holds `role`: it is among its roles, or the role is `writer` and it
 * is an `admin`.
 *
 * @example
 * ```ts
 * if (holdsRole(context.principal, Roles.admin)) fields.push('handlerError');
 * ```
 */
export function holdsRole(principal: Principal | undefined, role: string): boolean {
  if (principal === undefined) return false;
  return principal.roles.includes(role) || (role === Roles.writer && principal.roles.includes(Roles.admin));
}

/**
 * The caller's principal when it holds `role` (see {@link holdsRole}).
 * @throws AccessRefusedError `UNAUTHENTICATED` (401) without a principal, `FORBIDDEN` (403) without the role.
 *
 * @example
 * ```ts
 * const resolvers = {
 *   Mutation: {
 *     rebuildProjection: async (_root, { name }, context) => {
 *       requireRole(context, Roles.admin);
 *       return rebuild(context.store, name);
 *     },
 *   },
 * };
 * ```
 */
export function requireRole(context: { readonly principal?: Principal | undefined }, role: string): Principal {
  const { principal } = context;
  if (principal === undefined) {
    throw new AccessRefusedError(ServiceErrorCodes.unauthenticated, 401, `this operation needs a bearer token with the '${role}' role`);
  }
  if (!holdsRole(principal, role)) {
    throw new AccessRefusedError(ServiceErrorCodes.forbidden, 403, `'${principal.subject}' lacks the '${role}' role this operation needs`);
  }
  return principal;
}
