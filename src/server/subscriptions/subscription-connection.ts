import type { FastifyBaseLogger } from 'fastify';
import { GraphQLError } from 'graphql';
import { ServiceErrorCodes } from '../service-errors.js';
import type { ServiceContext } from '../service-options.js';

/**
 * One websocket connection of the service: its subscriptions, the limits on them, and
 * how it ends (the client goes away, a slow consumer is dropped, the service closes).
 */

/** The websocket, as much of ws' WebSocket as the service uses (ws is @fastify/websocket's, not a dependency of Annals). */
export interface SubscriptionSocket {
  readonly readyState: number;
  close(code?: number, reason?: string): void;
  terminate(): void;
  once(event: 'close', listener: () => void): unknown;
}

/** What the connection's subscriptions are bounded by (SubscriptionOptions, filled in). */
export interface ConnectionLimits {
  maxQueuedMessages: number;
  maxSubscriptionsPerConnection: number;
}

/**
 * Websocket close codes (RFC 6455): both are ones graphql-ws clients retry on, which is
 * what a client should do, with `after` set to the last position it got.
 */
export const CloseCodes = {
  /** The service is shutting down: reconnect (to another process). */
  goingAway: 1001,
  /** The client did not read what it was sent: reconnect when it can keep up. */
  tryAgainLater: 1013,
} as const;

/** Ends one subscription (its values stop, mercurius completes it). */
export interface SubscriptionHandle {
  end(): void;
}

const openState = 1;

export class SubscriptionConnection {
  readonly log: FastifyBaseLogger;
  readonly limits: ConnectionLimits;
  readonly production: boolean;
  readonly #socket: SubscriptionSocket;
  readonly #closed = new AbortController();
  readonly #subscriptions = new Set<SubscriptionHandle>();
  #reserved = 0;
  #reason: 'dropped' | 'shutdown' | undefined;

  constructor(socket: SubscriptionSocket, settings: { log: FastifyBaseLogger; limits: ConnectionLimits; production: boolean }) {
    this.#socket = socket;
    this.log = settings.log;
    this.limits = settings.limits;
    this.production = settings.production;
    socket.once('close', () => this.#end());
  }

  /** Aborts when the connection closes, whoever closes it. */
  get signal(): AbortSignal {
    return this.#closed.signal;
  }

  /** Why the connection's subscriptions end, once they do: dropped, the service shut down, or the client went away. */
  endReason(): 'dropped' | 'shutdown' | 'client-gone' | undefined {
    if (this.#reason) return this.#reason;
    return this.#socket.readyState === openState ? undefined : 'client-gone';
  }

  /** Subscriptions running or starting on the connection. */
  get subscriptions(): number {
    return this.#subscriptions.size + this.#reserved;
  }

  /**
   * Takes a place for a subscription that is starting: `attach` it once started (it is
   * then counted until it ends, `detach`), or `cancel` if it failed to start.
   *
   * @throws GraphQLError `TOO_MANY_SUBSCRIPTIONS` past `maxSubscriptionsPerConnection`.
   */
  reserve(): { attach(handle: SubscriptionHandle): void; cancel(): void } {
    const max = this.limits.maxSubscriptionsPerConnection;
    if (this.subscriptions >= max) {
      throw new GraphQLError(`this connection already has ${max} subscriptions, the most it may hold; stop one first or open another connection`, {
        extensions: { code: ServiceErrorCodes.tooManySubscriptions, limit: max },
      });
    }
    this.#reserved++;
    let settled = false;
    return {
      attach: (handle) => {
        if (settled) return;
        settled = true;
        this.#reserved--;
        if (this.#closed.signal.aborted) handle.end();
        else this.#subscriptions.add(handle);
      },
      cancel: () => {
        if (settled) return;
        settled = true;
        this.#reserved--;
      },
    };
  }

  /** A subscription ended: it no longer counts. */
  detach(handle: SubscriptionHandle): void {
    this.#subscriptions.delete(handle);
  }

  /**
   * Drops a slow consumer: logs why, ends every subscription of the connection (what they
   * held is freed at once) and closes the socket with 1013, the reason in the close frame.
   * The socket goes once the client answers the close, or ws' close timeout passes.
   */
  drop(reason: string, details: Record<string, unknown>): void {
    if (this.#closed.signal.aborted) return;
    this.log.warn({ ...details, reason }, `subscriptions: dropped a slow consumer: ${reason}`);
    this.#reason = 'dropped';
    this.#close(CloseCodes.tryAgainLater, reason);
  }

  /** The service is closing: ends the subscriptions and closes the socket with 1001. */
  goAway(): void {
    this.#reason ??= 'shutdown';
    this.#close(CloseCodes.goingAway, 'the service is shutting down: reconnect with after set to the last position received');
  }

  /** Cuts the socket at once (a shutdown that ran out of time). */
  terminate(): void {
    this.#reason ??= 'shutdown';
    this.#end();
    this.#socket.terminate();
  }

  #close(code: number, reason: string): void {
    this.#end();
    // A close frame's reason is at most 123 bytes.
    if (this.#socket.readyState === openState) this.#socket.close(code, truncate(reason, 123));
  }

  #end(): void {
    if (this.#closed.signal.aborted) return;
    this.#closed.abort();
    for (const handle of [...this.#subscriptions]) handle.end();
    this.#subscriptions.clear();
  }
}

function truncate(text: string, bytes: number): string {
  const encoded = Buffer.from(text);
  // Cut on a byte count; a character cut in two is left out.
  return encoded.length <= bytes ? text : encoded.subarray(0, bytes).toString('utf8').replace(/\uFFFD$/, '');
}

/** Where the connection sits in a subscription's context (mercurius merges contexts by spreading them: symbols survive). */
export const connectionKey: unique symbol = Symbol('annals.subscriptionConnection');
/** Where the refusal of the connection's token sits, for each subscription to answer with. */
export const refusalKey: unique symbol = Symbol('annals.connectionRefusal');

/**
 * What a subscription's resolvers get: the service's context, for the websocket
 * connection (`requestId` is the upgrade request's, `signal` aborts when the connection
 * closes, `principal` is what the `connection_init` payload's `authorization` proved).
 *
 * @example
 * ```ts
 * const auditTrail = {
 *   subscribe: (_root: unknown, _args: unknown, context: SubscriptionContext) => {
 *     requireRole(context, Roles.admin);
 *     return followAudit(context.store, context.signal); // ends when the connection closes
 *   },
 * };
 * ```
 */
export interface SubscriptionContext extends ServiceContext {
  readonly [connectionKey]?: SubscriptionConnection;
  readonly [refusalKey]?: unknown;
}
