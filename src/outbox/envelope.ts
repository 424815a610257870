/**
 * The body every publisher sends, the same on every broker: the message's public fields
 * and its payload as `data`, in JSON. Receivers parse it with `parseEnvelope` (or any JSON
 * reader: the fields are documented in docs/outbox.md), whichever broker carried it.
 */
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { parseInput } from '../validation.js';
import type { OutboxMessage } from './message.js';

export interface Envelope {
  id: string;
  type: string;
  schemaVersion: number;
  key: string;
  streamId: string;
  category: string;
  /** The global position, a decimal string. */
  position: string;
  /** ISO 8601. */
  recordedAt: string;
  correlationId?: string;
  causationId?: string;
  data: unknown;
}

const envelopeSchema = z.object({
  id: z.string().min(1),
  type: z.string().min(1),
  schemaVersion: z.number().int().min(1),
  key: z.string().min(1),
  streamId: z.string().min(1),
  category: z.string(),
  position: z.string().regex(/^\d+$/, { error: 'must be a decimal string' }),
  recordedAt: z.iso.datetime({ offset: true }),
  correlationId: z.string().optional(),
  causationId: z.string().optional(),
  data: z.unknown(),
});

/** The envelope of `message`. */
export function toEnvelope(message: OutboxMessage): Envelope {
  return {
    id: message.id,
    type: message.type,
    schemaVersion: message.schemaVersion,
    key: message.key,
    streamId: message.streamId,
    category: message.category,
    position: message.position,
    recordedAt: message.recordedAt.toISOString(),
    ...(message.correlationId === undefined ? {} : { correlationId: message.correlationId }),
    ...(message.causationId === undefined ? {} : { causationId: message.causationId }),
    data: message.payload,
  };
}

/** The JSON text publishers send. */
export function encodeEnvelope(message: OutboxMessage): string {
  return JSON.stringify(toEnvelope(message));
}

/**
 * A received body as an envelope (`body`: the bytes or text a broker delivered).
 *
 * @throws ValidationError naming the field at fault (`body` when it is not JSON).
 */
export function parseEnvelope(body: string | Uint8Array): Envelope {
  const text = typeof body === 'string' ? body : new TextDecoder().decode(body);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ValidationError([{ field: 'body', reason: `is not JSON: ${(error as Error).message}` }]);
  }
  return parseInput(envelopeSchema, json, 'body') as Envelope;
}
