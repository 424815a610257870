import { describe, expect, it } from 'vitest';
import { classifyNatsError } from '../../../src/outbox/publishers/nats-errors.js';
import { routingToken } from '../../../src/outbox/publishers/index.js';
import { messageHeaders } from '../../../src/outbox/publishers/publish-support.js';
import { outboxMessage } from './support/messages.js';

const named = (name: string, message = name) => Object.assign(new Error(message), { name });
const apiError = (code: number, status: number, message: string) => Object.assign(named('JetStreamApiError', message), { code, status });

describe('routingToken', () => {
  it('turns whitespace, dots, *, > and # into _, and an empty name into _', () => {
    expect(routingToken('PostLiked')).toBe('PostLiked');
    expect(routingToken('order line\t.v1*>#')).toBe('order_line__v1___');
    expect(routingToken('')).toBe('_');
  });
});

describe('classifyNatsError', () => {
  it('retries what the connection or the server state causes', () => {
    for (const name of ['TimeoutError', 'ConnectionError', 'ClosedConnectionError', 'DrainingConnectionError', 'NoResponders', 'JetStreamNotEnabled', 'SomethingNew']) {
      expect(classifyNatsError(named(name)).retryable, name).toBe(true);
    }
    expect(classifyNatsError(apiError(10077, 503, 'maximum messages exceeded')).retryable).toBe(true);
    expect(classifyNatsError(apiError(10008, 503, 'JetStream system temporarily unavailable')).retryable).toBe(true);
  });

  it('does not retry what the message itself causes', () => {
    expect(classifyNatsError(named('InvalidArgumentError', "'payload' max_payload size exceeded")).retryable).toBe(false);
    expect(classifyNatsError(named('InvalidSubjectError')).retryable).toBe(false);
    expect(classifyNatsError(apiError(10054, 400, 'message size exceeds maximum allowed'))).toMatchObject({ retryable: false, reason: expect.stringContaining('max_msg_size') });
    expect(classifyNatsError(apiError(10060, 400, 'expected stream does not match')).retryable).toBe(false);
  });
});

describe('messageHeaders', () => {
  it('carries type, schema version, key, position and the correlation ids, line breaks as spaces', () => {
    const message = outboxMessage({ key: 'a\r\nb', causationId: 'c-1' });
    expect(messageHeaders(message)).toEqual({
      'annals-type': 'PostLiked',
      'annals-schema-version': '1',
      'annals-key': 'a  b',
      'annals-position': '42',
      'annals-correlation-id': message.correlationId,
      'annals-causation-id': 'c-1',
    });
  });
});
