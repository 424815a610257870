import { z } from 'zod';
import type { AppendResult, EventStoreSession, NewEvent } from '../event-store/event-store.js';
import { parseInput } from '../validation.js';
import { outboxCategory, outboxMessageType } from './define-outbox.js';

/**
 * A message that is not a domain event (a command to another service, say), to be
 * published as written. Appended to the log in the caller's transaction, so it goes out
 * if and only if that transaction commits.
 */
export interface MessageToWrite {
  /** A destination of the outbox that publishes it. */
  destination: string;
  /** The ordering key: messages (and events of the stream with this id) of one key go out in log order. */
  key: string;
  /** The public type. */
  type: string;
  /** The version of the public shape (default 1). */
  schemaVersion?: number;
  /** What goes out as the envelope's `data`: JSON. */
  payload: unknown;
  /** A UUID: writing the same message again (a retried command) appends nothing twice. */
  id?: string;
  correlationId?: string;
  causationId?: string;
}

/** How a written message is stored: the data of its event. */
export interface WrittenMessageData {
  destination: string;
  key: string;
  type: string;
  schemaVersion: number;
  payload: unknown;
}

const messageSchema = z.object({
  destination: z.string().regex(/^[\w.:]+$/, { error: 'letters, digits and _ . : only' }),
  key: z.string().min(1).max(200),
  type: z.string().min(1).max(255),
  schemaVersion: z.number().int().min(1).optional(),
  payload: z.unknown().refine((value) => value !== undefined, { error: 'is required' }),
  id: z.uuid().optional(),
  correlationId: z.string().min(1).optional(),
  causationId: z.string().min(1).optional(),
});

/**
 * The stream and event that carry `message` in the log: for a caller that appends it
 * itself (with other events of a process manager's batch, say). The stream is
 * `outbox-<destination>-<key>`: one per destination and key, so writers of different keys
 * never contend on one stream.
 *
 * @throws ValidationError naming the field (`message.destination`, ...).
 */
export function outboxMessage(message: MessageToWrite): { streamId: string; event: NewEvent } {
  parseInput(messageSchema, message, 'message');
  const data: WrittenMessageData = {
    destination: message.destination,
    key: message.key,
    type: message.type,
    schemaVersion: message.schemaVersion ?? 1,
    payload: message.payload,
  };
  const metadata = {
    ...(message.correlationId === undefined ? {} : { correlationId: message.correlationId }),
    ...(message.causationId === undefined ? {} : { causationId: message.causationId }),
  };
  return {
    streamId: `${outboxCategory}-${message.destination}-${message.key}`,
    event: { type: outboxMessageType, data, metadata, ...(message.id === undefined ? {} : { id: message.id }) },
  };
}

/**
 * Writes `message` to the log in `tx` (or on its own, given the store), with the events
 * of the same transaction: the relay publishes it after it commits, never before, and
 * never if it rolls back.
 *
 * @throws ValidationError naming the field.
 *
 * @example
 * ```ts
 * await store.withTransaction(async (tx) => {
 *   await tx.appendToStream('order-42', [{ type: 'OrderPlaced', data }]);
 *   await writeMessage(tx, { destination: 'billing', key: 'order-42', type: 'billing.charge', payload: { amount: 500 } });
 * });
 * ```
 */
export function writeMessage(tx: EventStoreSession, message: MessageToWrite): Promise<AppendResult> {
  const { streamId, event } = outboxMessage(message);
  return tx.appendToStream(streamId, [event], { expectedVersion: 'any' });
}
