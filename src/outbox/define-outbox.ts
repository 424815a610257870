import { z } from 'zod';
import type { RecordedEvent } from '../event-store/event-store.js';
import { ValidationError } from '../errors.js';
import { parseInput } from '../validation.js';
import type { Publisher } from './message.js';
import { writtenMessage } from '../event-store/log-partition.js';

/** Where messages go: a publisher (NATS, RabbitMQ, a webhook, your own). */
export interface OutboxDestination {
  publisher: Publisher;
}

/**
 * Which domain events go out to one destination, and in which public shape. An event
 * matches when its type is in `eventTypes` (if given) and its stream's category is in
 * `categories` (if given); for each destination, the first route that matches applies.
 */
export interface OutboxRoute {
  /** A key of the outbox's `destinations`. */
  destination: string;
  eventTypes?: readonly string[];
  categories?: readonly string[];
  /** The public type (default: the event's type). */
  type?: string;
  /** The version of the public shape (default 1). */
  schemaVersion?: number;
  /**
   * The public shape: the mapped payload is checked against it, and its output is what
   * goes out. The internal event schema is not the public contract; this is.
   */
  schema: z.ZodType;
  /** From the domain event to the public payload (default: the event's data). */
  map?: (event: RecordedEvent) => unknown;
}

export interface OutboxDefinition {
  /** Unique in the store across outboxes, projections and consumers: the relay's consumer is `outbox:<name>`. */
  name: string;
  destinations: Record<string, OutboxDestination>;
  routes: readonly OutboxRoute[];
  /** Partitions of the ordering key, shared by the relays running this outbox (default 4; fixed once it has run). */
  partitions?: number;
  /** Most events per batch (default 1,000: the relay's cost is mostly per batch, docs/benchmarks.md, "Issue 15"). */
  batchSize?: number;
  /** Where an outbox new to the store starts: the beginning of the log (default) or its head now. */
  startAt?: 'beginning' | 'now';
}

/** An outbox as the relay and the parked-message calls use it. */
export interface Outbox {
  readonly name: string;
  /** The name of the relay's consumer (its partitions, checkpoints and leases). */
  readonly consumerName: string;
  readonly destinations: ReadonlyMap<string, OutboxDestination>;
  readonly routes: readonly OutboxRoute[];
  readonly partitions: number;
  readonly batchSize: number;
  readonly startAt: 'beginning' | 'now';
  /** The event types and categories the relay reads (undefined: every one). */
  readonly filter: { eventTypes: readonly string[] | undefined; categories: readonly string[] | undefined };
  /** Closes every destination's publisher (the relay does it when it stops). */
  close(): Promise<void>;
}

const nameSchema = z
  .string()
  .min(1)
  .max(190)
  .regex(/^[\w.:-]+$/, { error: 'letters, digits and _ . : - only' });

const publisherSchema = z.custom<Publisher>(
  (value) =>
    typeof value === 'object' && value !== null && typeof (value as Publisher).publish === 'function' && typeof (value as Publisher).close === 'function',
  { error: 'must be a Publisher { kind, publish(message), close() }' },
);

const routeSchema = z.object({
  destination: z.string().min(1),
  eventTypes: z.array(z.string().min(1)).min(1).optional(),
  categories: z.array(z.string().min(1)).min(1).optional(),
  type: z.string().min(1).max(255).optional(),
  schemaVersion: z.number().int().min(1).optional(),
  // Duck-typed: a schema from another copy of zod is no instance of this one's classes.
  schema: z.custom<z.ZodType>((value) => typeof (value as { safeParse?: unknown } | null)?.safeParse === 'function', {
    error: 'must be a zod schema of the public payload',
  }),
  map: z.custom<(event: RecordedEvent) => unknown>((value) => typeof value === 'function', { error: 'must be a function (event) => payload' }).optional(),
});

const definitionSchema = z.object({
  name: nameSchema,
  destinations: z.record(z.string().regex(/^[\w.:]+$/, { error: 'letters, digits and _ . : only' }), z.object({ publisher: publisherSchema })),
  routes: z.array(routeSchema),
  partitions: z.number().int().min(1).max(1024).optional(),
  batchSize: z.number().int().min(1).max(10_000).optional(),
  startAt: z.enum(['beginning', 'now']).optional(),
});

/** The category of the streams `writeMessage` appends to (`outbox-<destination>-<key>`). */
export const outboxCategory = writtenMessage.category;
/** The event type of a message written with `writeMessage`. */
export const outboxMessageType = writtenMessage.type;

/**
 * Declares what goes out of the store: which events, to which destination, in which
 * public shape. Run it with `runOutboxRelay`. Messages written with `writeMessage` to one
 * of its destinations go out too, as they were written.
 *
 * @throws ValidationError naming the field (`outbox.routes[0].destination`, ...).
 *
 * @example
 * ```ts
 * const outbox = defineOutbox({
 *   name: 'public',
 *   destinations: { likes: { publisher: natsPublisher({ servers: url }) } },
 *   routes: [{ destination: 'likes', eventTypes: ['LikeCreated'], type: 'post.liked', schema: z.object({ postId: z.string() }) }],
 * });
 * ```
 */
export function defineOutbox(definition: OutboxDefinition): Outbox {
  parseInput(definitionSchema, definition, 'outbox');
  for (const [index, route] of definition.routes.entries()) {
    if (!Object.hasOwn(definition.destinations, route.destination)) {
      throw new ValidationError([{ field: `outbox.routes[${index}].destination`, reason: `'${route.destination}' is not one of the outbox's destinations` }]);
    }
    if (route.categories?.includes(outboxCategory)) {
      throw new ValidationError([{ field: `outbox.routes[${index}].categories`, reason: `'${outboxCategory}' is reserved for messages written with writeMessage, which go out as written` }]);
    }
  }
  const destinations = new Map(Object.entries(definition.destinations));
  const publishers = [...new Set([...destinations.values()].map((destination) => destination.publisher))];
  let closed: Promise<void> | undefined;
  return {
    name: definition.name,
    consumerName: `outbox:${definition.name}`,
    destinations,
    routes: definition.routes,
    partitions: definition.partitions ?? 4,
    batchSize: definition.batchSize ?? 1000,
    startAt: definition.startAt ?? 'beginning',
    filter: readFilter(definition.routes),
    close: () => (closed ??= Promise.all(publishers.map((publisher) => publisher.close())).then(() => undefined)),
  };
}

/**
 * What the relay needs to read: when every route names its types (or its categories),
 * only those, plus the written messages; otherwise everything, and routing picks.
 */
function readFilter(routes: readonly OutboxRoute[]): Outbox['filter'] {
  const union = (pick: (route: OutboxRoute) => readonly string[] | undefined, extra: string) =>
    routes.every((route) => pick(route) !== undefined) ? [...new Set([...routes.flatMap((route) => pick(route)!), extra])] : undefined;
  return { eventTypes: union((route) => route.eventTypes, outboxMessageType), categories: union((route) => route.categories, outboxCategory) };
}
