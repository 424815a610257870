import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { EventStore } from '../event-store/event-store.js';
import type { Principal } from './principal.js';
import { readYourWritesOf, requestMinPosition, type ReadYourWrites } from './read-your-writes.js';
import { requestSignal } from './request-deadline.js';
import { correlationIdOf } from './request-ids.js';
import { principalOf } from './security/authenticate.js';
import type { ServiceContext } from './service-options.js';

const ofRequest = Symbol('request');

/** What every request's context shares: made once, in createService. */
export interface SharedContext {
  readonly store: EventStore;
  readonly eventsAppended: (category: string, count: number) => void;
  readonly consistency: { store: EventStore; timeoutMs: number };
}

/**
 * The context of one GraphQL request (ServiceContext). A class, because one is made on
 * every request: its instances share one shape from the start, and `signal` is a getter on
 * the prototype, so its controller is made only for a resolver that asks for it.
 *
 * It also declares, as `undefined`, the fields mercurius adds to every context before it
 * executes (`reply`, `app`, its hooks, ...). Added one by one to an object that lacks
 * them, each grew the object's property store again; declared, they are written in place.
 * Nothing depends on the list being complete: a field mercurius adds that is missing
 * here is added as before.
 */
export class RequestContext implements ServiceContext {
  readonly store: EventStore;
  readonly requestId: string;
  readonly correlationId: string;
  readonly log: FastifyBaseLogger;
  readonly minPosition: bigint | undefined;
  readonly readYourWrites: ReadYourWrites;
  readonly principal: Principal | undefined;
  readonly eventsAppended: (category: string, count: number) => void;
  // A symbol, not a #private field: mercurius gives each operation of a batch a context
  // made with Object.create(this one), which has no private fields of its own.
  readonly [ofRequest]: FastifyRequest;

  // mercurius' fields (mercurius/index.js, lib/routes.js, lib/hooks.js).
  reply: unknown = undefined;
  app: unknown = undefined;
  pubsub: unknown = undefined;
  __currentQuery: unknown = undefined;
  errors: unknown = undefined;
  preParsing: unknown = undefined;
  preValidation: unknown = undefined;
  preExecution: unknown = undefined;
  onResolution: unknown = undefined;
  preSubscriptionParsing: unknown = undefined;
  preSubscriptionExecution: unknown = undefined;
  onSubscriptionResolution: unknown = undefined;
  onSubscriptionEnd: unknown = undefined;

  constructor(request: FastifyRequest, shared: SharedContext) {
    this[ofRequest] = request;
    this.store = shared.store;
    this.requestId = request.id;
    this.correlationId = correlationIdOf(request.raw, request.id);
    this.log = request.log;
    this.principal = principalOf(request);
    this.eventsAppended = shared.eventsAppended;
    this.minPosition = requestMinPosition(request);
    this.readYourWrites = readYourWritesOf(request, this.minPosition, shared.consistency);
  }

  get signal(): AbortSignal {
    return requestSignal(this[ofRequest]);
  }
}

/**
 * The context with what a context builder returned over it. Defined, not assigned: a
 * builder may replace `signal`, which is a getter here.
 */
export function withBuilderFields(context: RequestContext, fields: Record<string, unknown>): RequestContext {
  for (const [key, value] of Object.entries(fields)) {
    Object.defineProperty(context, key, { value, writable: true, enumerable: true, configurable: true });
  }
  return context;
}
