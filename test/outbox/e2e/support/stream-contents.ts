// No vitest import here: the benchmark reads streams with it too.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { parseEnvelope, type Envelope } from '../../../../src/outbox/envelope.js';

/** A message as stored in the stream: its sequence, its dedupe id, its envelope. */
export interface StoredMessage {
  sequence: number;
  /** The `Nats-Msg-Id` header: what JetStream deduplicated by. */
  msgId: string | undefined;
  envelope: Envelope;
}

/** How many messages `stream` holds, or 0 when it does not exist yet. */
export async function storedCount(natsUrl: string, stream: string): Promise<number> {
  const connection = await connect({ servers: natsUrl, maxReconnectAttempts: 0 });
  try {
    const manager = await jetstreamManager(connection);
    return (await manager.streams.info(stream)).state.messages;
  } catch (error) {
    if ((error as Error).name === 'StreamNotFoundError') return 0;
    throw error;
  } finally {
    await connection.close();
  }
}

/**
 * Every message of `stream`, in stream order, read with an ordered consumer (the
 * receiver's view: what a consumer reading from the start gets, each stored message once).
 */
export async function storedMessages(natsUrl: string, stream: string): Promise<StoredMessage[]> {
  const total = await storedCount(natsUrl, stream);
  if (total === 0) return [];
  const connection = await connect({ servers: natsUrl, maxReconnectAttempts: 0 });
  try {
    const consumer = await jetstream(connection).consumers.get(stream);
    const messages = await consumer.consume({ max_messages: 1_000 });
    const stored: StoredMessage[] = [];
    for await (const message of messages) {
      stored.push({ sequence: message.seq, msgId: message.headers?.get('Nats-Msg-Id') || undefined, envelope: parseEnvelope(message.data) });
      if (message.info.pending === 0) break;
    }
    await messages.close();
    return stored;
  } finally {
    await connection.close();
  }
}

/** Per key, the positions stored, in stream order. */
export function positionsByKey(stored: readonly StoredMessage[]): Map<string, bigint[]> {
  const byKey = new Map<string, bigint[]>();
  for (const { envelope } of stored) {
    let positions = byKey.get(envelope.key);
    if (!positions) byKey.set(envelope.key, (positions = []));
    positions.push(BigInt(envelope.position));
  }
  return byKey;
}
