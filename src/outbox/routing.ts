import { z } from 'zod';
import type { RecordedEvent } from '../event-store/event-store.js';
import { categoryOf } from '../event-store/stream-name.js';
import { ValidationError } from '../errors.js';
import { toIssues } from '../validation.js';
import { outboxCategory, outboxMessageType, type Outbox, type OutboxRoute } from './define-outbox.js';
import type { OutboxMessage } from './message.js';
import { messageIdOf } from './message-id.js';
import type { WrittenMessageData } from './write-message.js';

/**
 * What one event gives one destination: the message to publish, or why none could be
 * made (a payload that fails the public schema, a map that threw): the relay parks that
 * as it would a message the broker refused, holding its key.
 */
export type Routed =
  | { destination: string; messageId: string; key: string; message: OutboxMessage; error?: undefined }
  | { destination: string; messageId: string; key: string; message?: undefined; error: Error };

const writtenSchema = z.object({
  destination: z.string().min(1),
  key: z.string().min(1),
  type: z.string().min(1),
  schemaVersion: z.number().int().min(1),
  payload: z.unknown(),
});

/** Whether `event` is a message written with writeMessage. */
function isWritten(event: RecordedEvent): boolean {
  return event.type === outboxMessageType && categoryOf(event.streamId) === outboxCategory;
}

/**
 * The ordering key of an event: the stream id, or the key a written message gave. It
 * picks the relay's partition, so a written message and the events of the stream named
 * like its key are in one partition, in log order.
 */
export function orderingKeyOf(event: RecordedEvent): string {
  if (isWritten(event)) {
    const key = (event.data as { key?: unknown } | null)?.key;
    if (typeof key === 'string' && key !== '') return key;
  }
  return event.streamId;
}

/** The messages `event` gives, one per destination at most, in the outbox's destination order. */
export function routeEvent(outbox: Outbox, event: RecordedEvent, only?: string): Routed[] {
  if (isWritten(event)) {
    const written = writtenSchema.safeParse(event.data);
    if (!written.success) return [];
    const data = written.data as WrittenMessageData;
    if (!outbox.destinations.has(data.destination) || (only !== undefined && data.destination !== only)) return [];
    const messageId = messageIdOf(data.destination, event.id);
    const message = messageOf(event, { destination: data.destination, messageId, key: data.key, type: data.type, schemaVersion: data.schemaVersion, payload: data.payload });
    return [{ destination: data.destination, messageId, key: data.key, message }];
  }
  const category = categoryOf(event.streamId);
  if (category === outboxCategory) return [];
  const routed: Routed[] = [];
  for (const route of outbox.routes) {
    if (only !== undefined && route.destination !== only) continue;
    if (route.eventTypes && !route.eventTypes.includes(event.type)) continue;
    if (route.categories && !route.categories.includes(category)) continue;
    // The first matching route of a destination wins (few routes: a scan, no set per event).
    if (routed.some((earlier) => earlier.destination === route.destination)) continue;
    routed.push(mapped(event, route, category));
  }
  return routed;
}

function mapped(event: RecordedEvent, route: OutboxRoute, category: string): Routed {
  const { destination } = route;
  const messageId = messageIdOf(destination, event.id);
  const key = event.streamId;
  let parsed: ReturnType<z.ZodType['safeParse']>;
  try {
    // A map that throws, or a schema that cannot run synchronously (an async refinement),
    // fails this message, never the relay's batch.
    parsed = route.schema.safeParse(route.map ? route.map(event) : event.data);
  } catch (error) {
    return { destination, messageId, key, error: new Error(`mapping ${event.type} at ${event.globalPosition} threw: ${describe(error)}`, { cause: error }) };
  }
  if (!parsed.success) return { destination, messageId, key, error: new ValidationError(toIssues(parsed.error, 'payload')) };
  const message = messageOf(event, { destination, messageId, key, type: route.type ?? event.type, schemaVersion: route.schemaVersion ?? 1, payload: parsed.data }, category);
  return { destination, messageId, key, message };
}

/** The message of `event`; `category`: its key's, when the caller has it already. Built in one shape, the optional ids added only when present. */
function messageOf(
  event: RecordedEvent,
  fields: { destination: string; messageId: string; key: string; type: string; schemaVersion: number; payload: unknown },
  category = categoryOf(fields.key),
): OutboxMessage {
  const message: { -readonly [K in keyof OutboxMessage]: OutboxMessage[K] } = {
    id: fields.messageId,
    destination: fields.destination,
    key: fields.key,
    type: fields.type,
    schemaVersion: fields.schemaVersion,
    category,
    payload: fields.payload,
    position: event.globalPosition.toString(),
    streamId: event.streamId,
    recordedAt: event.recordedAt,
  };
  const metadata = event.metadata;
  if (metadata) {
    const correlationId = stringOf(metadata.correlationId);
    const causationId = stringOf(metadata.causationId);
    if (correlationId !== undefined) message.correlationId = correlationId;
    if (causationId !== undefined) message.causationId = causationId;
  }
  return message;
}

const stringOf = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);

export function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
