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
  const seen = new Set<string>();
  for (const route of outbox.routes) {
    if (seen.has(route.destination) || (only !== undefined && route.destination !== only)) continue;
    if (route.eventTypes && !route.eventTypes.includes(event.type)) continue;
    if (route.categories && !route.categories.includes(category)) continue;
    seen.add(route.destination);
    routed.push(mapped(event, route));
  }
  return routed;
}

function mapped(event: RecordedEvent, route: OutboxRoute): Routed {
  const messageId = messageIdOf(route.destination, event.id);
  const base = { destination: route.destination, messageId, key: event.streamId };
  let parsed: ReturnType<z.ZodType['safeParse']>;
  try {
    // A map that throws, or a schema that cannot run synchronously (an async refinement),
    // fails this message, never the relay's batch.
    parsed = route.schema.safeParse(route.map ? route.map(event) : event.data);
  } catch (error) {
    return { ...base, error: new Error(`mapping ${event.type} at ${event.globalPosition} threw: ${describe(error)}`, { cause: error }) };
  }
  if (!parsed.success) return { ...base, error: new ValidationError(toIssues(parsed.error, 'payload')) };
  const message = messageOf(event, { ...base, type: route.type ?? event.type, schemaVersion: route.schemaVersion ?? 1, payload: parsed.data });
  return { ...base, message };
}

function messageOf(
  event: RecordedEvent,
  fields: { destination: string; messageId: string; key: string; type: string; schemaVersion: number; payload: unknown },
): OutboxMessage {
  const correlationId = stringOf(event.metadata?.correlationId);
  const causationId = stringOf(event.metadata?.causationId);
  return {
    id: fields.messageId,
    destination: fields.destination,
    key: fields.key,
    type: fields.type,
    schemaVersion: fields.schemaVersion,
    category: categoryOf(fields.key),
    payload: fields.payload,
    position: event.globalPosition.toString(),
    streamId: event.streamId,
    recordedAt: event.recordedAt,
    ...(correlationId === undefined ? {} : { correlationId }),
    ...(causationId === undefined ? {} : { causationId }),
  };
}

const stringOf = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);

export function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
