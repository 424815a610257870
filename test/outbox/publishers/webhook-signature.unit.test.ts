import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ValidationError } from '../../../src/errors.js';
import { encodeEnvelope, toEnvelope } from '../../../src/outbox/envelope.js';
import { signWebhook, verifyWebhook, type VerifyWebhookInput } from '../../../src/outbox/publishers/index.js';
import { outboxMessage } from './support/messages.js';

const secret = 'whsec-unit';
const now = new Date('2026-12-01T12:00:00Z');
const timestamp = Math.floor(now.getTime() / 1000);
const message = outboxMessage();
const body = encodeEnvelope(message);
const headers = { 'annals-message-id': message.id, 'annals-timestamp': String(timestamp), 'annals-signature': signWebhook({ secret, timestamp, body }) };

function refusal(input: Partial<VerifyWebhookInput>): ValidationError {
  try {
    verifyWebhook({ secret, body, headers, now, ...input });
  } catch (error) {
    return error as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

describe('signWebhook', () => {
  it('is v1= and the hex HMAC-SHA256 of "<timestamp>.<body>", as docs/publishers.md tells receivers in other languages', () => {
    const expected = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
    expect(signWebhook({ secret, timestamp, body })).toBe(`v1=${expected}`);
    expect(signWebhook({ secret: Buffer.from(secret), timestamp, body: Buffer.from(body) })).toBe(`v1=${expected}`);
  });
});

describe('verifyWebhook', () => {
  it('returns the envelope of a signed request, from Node headers or fetch Headers, mixed-case names too', () => {
    expect(verifyWebhook({ secret, body, headers, now })).toEqual(toEnvelope(message));
    expect(verifyWebhook({ secret, body, headers: new Headers(headers), now }).id).toBe(message.id);
    const mixed = { 'Annals-Timestamp': headers['annals-timestamp'], 'Annals-Signature': headers['annals-signature'] };
    expect(verifyWebhook({ secret, body, headers: mixed, now }).id).toBe(message.id);
  });

  it('accepts any one of several signatures in the header', () => {
    const both = `v1=${'0'.repeat(64)}, ${headers['annals-signature']}`;
    expect(verifyWebhook({ secret, body, headers: { ...headers, 'annals-signature': both }, now }).id).toBe(message.id);
  });

  it('names a missing or malformed header', () => {
    expect(refusal({ headers: { ...headers, 'annals-signature': undefined } })).toMatchObject({ field: 'headers.annals-signature', reason: 'is missing' });
    expect(refusal({ headers: { ...headers, 'annals-timestamp': undefined } })).toMatchObject({ field: 'headers.annals-timestamp', reason: 'is missing' });
    expect(refusal({ headers: { ...headers, 'annals-timestamp': '2026-12-01' } })).toMatchObject({ field: 'headers.annals-timestamp' });
    expect(refusal({ headers: { ...headers, 'annals-signature': 'sha256=abc' } })).toMatchObject({ field: 'headers.annals-signature' });
    expect(refusal({ headers: { ...headers, 'annals-signature': 'v1=zz' } })).toMatchObject({ field: 'headers.annals-signature' });
  });

  it('refuses timestamps outside the tolerance, either way', () => {
    expect(refusal({ now: new Date(now.getTime() + 301_000) })).toMatchObject({ field: 'headers.annals-timestamp', reason: expect.stringContaining('301 s old') });
    expect(refusal({ now: new Date(now.getTime() - 301_000) })).toMatchObject({ field: 'headers.annals-timestamp', reason: expect.stringContaining('301 s in the future') });
    expect(refusal({ now: new Date(now.getTime() + 61_000), toleranceSeconds: 60 })).toMatchObject({ field: 'headers.annals-timestamp' });
    expect(verifyWebhook({ secret, body, headers, now: new Date(now.getTime() + 300_000) }).id).toBe(message.id);
  });

  it('refuses a message id header that is not the signed body id', () => {
    expect(refusal({ headers: { ...headers, 'annals-message-id': 'other' } })).toMatchObject({ field: 'headers.annals-message-id' });
  });

  it('names the body field at fault when a signed body is not an envelope', () => {
    const bad = JSON.stringify({ ...toEnvelope(message), position: 'x' });
    const signed = { ...headers, 'annals-signature': signWebhook({ secret, timestamp, body: bad }) };
    expect(refusal({ body: bad, headers: signed })).toMatchObject({ field: 'body.position' });
  });

  it('refuses to verify with no secret', () => {
    expect(refusal({ secret: [] })).toMatchObject({ field: 'secret' });
    expect(refusal({ secret: '' })).toMatchObject({ field: 'secret' });
  });
});
