import { randomUUID } from 'node:crypto';
import type { OutboxMessage } from '../../../../src/outbox/message.js';

/** An outbox message as the relay would hand it over, with a fresh id. */
export function outboxMessage(overrides: Partial<OutboxMessage> = {}): OutboxMessage {
  const streamId = overrides.streamId ?? `post-${randomUUID().slice(0, 8)}`;
  return {
    id: randomUUID(),
    destination: 'likes',
    key: streamId,
    type: 'PostLiked',
    schemaVersion: 1,
    category: 'post',
    payload: { postId: streamId, by: 'ada' },
    position: '42',
    streamId,
    recordedAt: new Date('2026-12-01T10:00:00.000Z'),
    correlationId: randomUUID(),
    ...overrides,
  };
}

/** A lower-case random suffix for broker names of this test file's own. */
export function uniqueSuffix(): string {
  return randomUUID().replace(/-/g, '').slice(0, 10);
}

/** The error `promise` rejects with (failing when it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected a rejection, the promise resolved');
}
