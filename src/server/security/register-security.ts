/**
 * The service's security (issue 14, section 5): bearer tokens (API keys from
 * ANNALS_API_KEYS, JWTs with roles), mutations and the admin schema behind them, rate
 * limits on mutations, CORS and security headers. A stub until it is built: it lets
 * every request through with no principal.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Authenticate, Principal } from '../principal.js';
import type { ServiceSettings } from '../service-options.js';

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface SecurityOptions {}

/** Registers the HTTP-level parts (before the GraphQL route); returns how tokens are checked (websockets use it too). */
export async function registerSecurity(_app: FastifyInstance, _options: SecurityOptions | undefined, _settings: ServiceSettings): Promise<Authenticate> {
  return async () => undefined;
}

/** Registers the GraphQL-level parts, once mercurius is loaded (mutations need a writer). */
export function secureGraphQL(_app: FastifyInstance, _options: SecurityOptions | undefined, _settings: ServiceSettings): void {}

/** The principal the request's bearer token proved, if any. */
export function principalOf(_request: FastifyRequest): Principal | undefined {
  return undefined;
}
