/**
 * The webhook signature (docs/publishers.md): `annals-signature: v1=<hex>`, the
 * HMAC-SHA256 under a shared secret of `<annals-timestamp>.<body>`. Signing the timestamp
 * with the body lets the receiver refuse a captured request replayed later.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ValidationError } from '../../errors.js';
import { parseEnvelope, type Envelope } from '../envelope.js';

/** The headers the webhook publisher sets. */
export const WebhookHeaders = {
  messageId: 'annals-message-id',
  timestamp: 'annals-timestamp',
  signature: 'annals-signature',
} as const;

/** A shared secret: a string (its UTF-8 bytes) or bytes. */
export type WebhookSecret = string | Uint8Array;

/**
 * The `annals-signature` value for `body` sent at `timestamp` (unix seconds).
 *
 * @example
 * ```ts
 * signWebhook({ secret, timestamp: 1767225600, body }); // 'v1=5f2c…'
 * ```
 */
export function signWebhook(input: { secret: WebhookSecret; timestamp: number; body: string | Uint8Array }): string {
  return `v1=${digest(input.secret, String(input.timestamp), input.body).toString('hex')}`;
}

export interface VerifyWebhookInput {
  /** The secret, or several while one is being replaced: any of them may have signed. */
  secret: WebhookSecret | readonly WebhookSecret[];
  /** The request body exactly as received: the raw bytes, not a re-serialized object. */
  body: string | Uint8Array;
  /** The request's headers: a fetch `Headers`, or Node's `IncomingMessage.headers`. */
  headers: Headers | Readonly<Record<string, string | readonly string[] | undefined>>;
  /** How far the timestamp may be from now, either way. Default 300. */
  toleranceSeconds?: number;
  /** The receiver's clock. Default now. */
  now?: Date;
}

/**
 * Checks a webhook request from Annals and returns its envelope: the signature matches
 * the body and timestamp under the secret (compared in constant time), and the timestamp
 * is within `toleranceSeconds` of now, so a captured request cannot be replayed later.
 * Duplicates within the tolerance are the inbox's job (the envelope's `id`).
 *
 * @throws ValidationError naming what is wrong: `headers.annals-signature` (missing, or
 * not matching), `headers.annals-timestamp` (missing, malformed, or too old or new),
 * `headers.annals-message-id` (not the body's id), or a field of `body`.
 * @example
 * ```ts
 * const envelope = verifyWebhook({ secret: process.env.WEBHOOK_SECRET!, body: rawBody, headers: request.headers });
 * ```
 */
export function verifyWebhook(input: VerifyWebhookInput): Envelope {
  const refuse = (header: string, reason: string) => new ValidationError([{ field: `headers.${header}`, reason }]);
  const signature = headerOf(input.headers, WebhookHeaders.signature);
  if (signature === undefined) throw refuse(WebhookHeaders.signature, 'is missing');
  const timestamp = headerOf(input.headers, WebhookHeaders.timestamp);
  if (timestamp === undefined) throw refuse(WebhookHeaders.timestamp, 'is missing');
  if (!/^\d{1,12}$/.test(timestamp)) throw refuse(WebhookHeaders.timestamp, `must be unix seconds, not '${timestamp.slice(0, 40)}'`);

  const secrets: readonly WebhookSecret[] = typeof input.secret === 'string' || input.secret instanceof Uint8Array ? [input.secret] : input.secret;
  if (secrets.length === 0 || secrets.some((secret) => secret.length === 0)) throw new ValidationError([{ field: 'secret', reason: 'must hold at least one secret, none empty' }]);
  // Several `v1=` values, comma-separated, are accepted: room for a sender that signs
  // with two secrets while they are rotated.
  const offered = signature
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.startsWith('v1='))
    .map((part) => Buffer.from(part.slice(3), 'hex'));
  const expected = secrets.map((secret) => digest(secret, timestamp, input.body));
  const matches = offered.some((candidate) => expected.some((wanted) => candidate.length === wanted.length && timingSafeEqual(candidate, wanted)));
  if (!matches) throw refuse(WebhookHeaders.signature, 'does not match the body and timestamp under the secret');

  const tolerance = input.toleranceSeconds ?? 300;
  const now = Math.floor((input.now ?? new Date()).getTime() / 1000);
  const skew = now - Number(timestamp);
  if (Math.abs(skew) > tolerance) {
    const when = skew > 0 ? `${skew} s old` : `${-skew} s in the future`;
    throw refuse(WebhookHeaders.timestamp, `is ${when}, over the ${tolerance} s tolerance (a replayed request, or clocks apart)`);
  }

  const envelope = parseEnvelope(input.body);
  const messageId = headerOf(input.headers, WebhookHeaders.messageId);
  if (messageId !== undefined && messageId !== envelope.id) throw refuse(WebhookHeaders.messageId, `is '${messageId}', not the body's id '${envelope.id}'`);
  return envelope;
}

function digest(secret: WebhookSecret, timestamp: string, body: string | Uint8Array): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest();
}

function headerOf(headers: VerifyWebhookInput['headers'], name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
  const key = name in record ? name : Object.keys(record).find((candidate) => candidate.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return typeof value === 'string' ? value : value?.[0];
}
