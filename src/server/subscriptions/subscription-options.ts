/**
 * GraphQL subscriptions over websockets (docs/subscriptions.md): the `graphql-transport-ws`
 * protocol on `/graphql`, served by mercurius. This builds mercurius' `subscription`
 * option: each connection's context (the service's, for a websocket), its principal from
 * the `connection_init` payload, the limits, and a clean end when the service closes.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { MercuriusOptions } from 'mercurius';
import { z } from 'zod';
import type { EventStore } from '../../event-store/event-store.js';
import { ValidationError } from '../../errors.js';
import { parseInput } from '../../validation.js';
import type { Authenticate, Principal } from '../principal.js';
import { correlationIdOf } from '../request-ids.js';
import type { ServiceSettings } from '../service-options.js';
import {
  connectionKey,
  refusalKey,
  SubscriptionConnection,
  type ConnectionLimits,
  type SubscriptionContext,
  type SubscriptionSocket,
} from './subscription-connection.js';

/**
 * `options.subscriptions` of createService (docs/subscriptions.md, "Limits"). Every field
 * has a default (subscriptionDefaults); `subscriptions: false` turns websockets off.
 *
 * @example
 * ```ts
 * const service = await createService({ store, ...composeSchema(parts), subscriptions: { maxQueuedMessages: 50 } });
 * ```
 */
export interface SubscriptionOptions {
  /**
   * Updates one subscription may have waiting, unsent, because its client does not read
   * them (default 100). One more and the client is a slow consumer: its connection is
   * closed with 1013 and the reason, and the reason logged.
   */
  maxQueuedMessages?: number;
  /** Subscriptions one connection may hold at once (default 100); one more is refused with `TOO_MANY_SUBSCRIPTIONS`. */
  maxSubscriptionsPerConnection?: number;
  /** How often the server pings each connection, in ms (default 30,000; 0: never): proxies keep an idle connection open. */
  keepAliveMs?: number;
}

export const subscriptionDefaults = {
  // A client that reads keeps a few waiting at most (one per change, sent as fast as the
  // socket takes them); a hundred is one that has stopped reading, not a burst.
  maxQueuedMessages: 100,
  maxSubscriptionsPerConnection: 100,
  // Below the idle timeouts of common proxies and load balancers (60 s).
  keepAliveMs: 30_000,
} as const;

export interface SubscriptionSetup {
  /** The service's app: its close ends every subscription (with 1001, so clients reconnect elsewhere). */
  app?: FastifyInstance;
  store: EventStore;
  options: SubscriptionOptions | false | undefined;
  settings: ServiceSettings;
  authenticate: Authenticate;
}

const optionsSchema = z
  .strictObject({
    maxQueuedMessages: z.number().int().min(1).max(100_000).optional(),
    maxSubscriptionsPerConnection: z.number().int().min(1).max(10_000).optional(),
    keepAliveMs: z.number().int().min(0).max(2 ** 31 - 1).optional(),
  })
  .optional();

/**
 * mercurius' `subscription` option, or false when `options` is false.
 *
 * @throws ValidationError naming `options.subscriptions.<field>` for options out of range.
 */
export function subscriptionOptions(setup: SubscriptionSetup): MercuriusOptions['subscription'] {
  if (setup.options === false) return false;
  const checked = { ...subscriptionDefaults, ...parseInput(optionsSchema, setup.options, 'options.subscriptions') };
  const limits: ConnectionLimits = { maxQueuedMessages: checked.maxQueuedMessages, maxSubscriptionsPerConnection: checked.maxSubscriptionsPerConnection };
  const { store, authenticate, settings } = setup;
  const connections = new Set<SubscriptionConnection>();
  if (setup.app) endOnClose(setup.app, connections, settings.limits.shutdownTimeoutMs);
  return {
    // Called at the client's `connection_init`, before onConnect.
    context: (socket: unknown, request: FastifyRequest): SubscriptionContext => {
      const log = request.log;
      const connection = new SubscriptionConnection(socket as SubscriptionSocket, { log, limits, production: settings.production });
      connections.add(connection);
      connection.signal.addEventListener('abort', () => connections.delete(connection), { once: true });
      return {
        store,
        requestId: request.id,
        correlationId: correlationIdOf(request.raw, request.id),
        signal: connection.signal,
        log,
        minPosition: undefined,
        // A subscription follows the read model as its checkpoint passes each change: there is nothing to wait for.
        readYourWrites: async () => {},
        principal: undefined,
        // Subscriptions never append.
        eventsAppended: () => {},
        [connectionKey]: connection,
      };
    },
    // The `connection_init` payload: `{ authorization: 'Bearer …' }`, checked as an
    // Authorization header is. A refused token does not close the connection: each
    // subscription answers with the refusal (a code, as over HTTP), which a client can act on.
    onConnect: async ({ payload }: { payload: unknown }): Promise<{ principal: Principal | undefined; [refusalKey]?: unknown }> => {
      const authorization = (payload as { authorization?: unknown } | null | undefined)?.authorization;
      if (authorization !== undefined && authorization !== null && typeof authorization !== 'string') {
        return {
          principal: undefined,
          [refusalKey]: new ValidationError([{ field: 'connection_init.payload.authorization', reason: "must be a string: 'Bearer <token>'" }]),
        };
      }
      try {
        return { principal: await authenticate(authorization ?? undefined) };
      } catch (error) {
        return { principal: undefined, [refusalKey]: error };
      }
    },
    ...(checked.keepAliveMs > 0 ? { keepAlive: checked.keepAliveMs } : {}),
  } as MercuriusOptions['subscription'];
}

/**
 * When the service closes: every connection is closed with 1001 (going away) and its
 * subscriptions end, before fastify stops the server, so clients reconnect elsewhere with
 * their last position. A client that does not answer the close is cut off at the
 * shutdown timeout, not left to hold the shutdown.
 */
function endOnClose(app: FastifyInstance, connections: Set<SubscriptionConnection>, shutdownTimeoutMs: number): void {
  let cutOff: NodeJS.Timeout | undefined;
  app.addHook('preClose', (done) => {
    const closing = [...connections];
    for (const connection of closing) connection.goAway();
    // Cutting a socket that has closed since does nothing.
    cutOff = setTimeout(() => {
      for (const connection of closing) connection.terminate();
    }, shutdownTimeoutMs);
    cutOff.unref();
    done();
  });
  app.addHook('onClose', (_instance, done) => {
    clearTimeout(cutOff);
    done();
  });
}
