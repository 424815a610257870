/**
 * Publishes outbox messages as signed HTTP POSTs (docs/publishers.md). Retries are the
 * relay's: this publisher makes one attempt per call and says whether another can help.
 */
import { ValidationError } from '../../errors.js';
import { encodeEnvelope } from '../envelope.js';
import type { OutboxMessage, Publisher } from '../message.js';
import { describeError, publishError } from './publish-support.js';
import { signWebhook, WebhookHeaders, type WebhookSecret } from './webhook-signature.js';

export interface WebhookPublisherOptions {
  /** Where to POST: one endpoint, or one chosen per message. */
  url: string | URL | ((message: OutboxMessage) => string | URL);
  /** Shared with the receiver, who checks the signature with `verifyWebhook`. */
  secret: WebhookSecret;
  /** How long one request may take, answer included. Default 10000. */
  timeoutMs?: number;
  /** More headers (an API key, a tenant); the `annals-*` and `content-type` headers win. */
  headers?: Record<string, string> | ((message: OutboxMessage) => Record<string, string>);
}

/**
 * POSTs each message's envelope as JSON, with `annals-message-id`, `annals-timestamp`
 * (unix seconds) and `annals-signature` (`v1=` + hex HMAC-SHA256 of
 * `<timestamp>.<body>`). A 2xx is success; a 408, a 429, a 5xx, a network error or no
 * answer in time is retryable; any other status is not (the endpoint refuses the
 * message itself). Redirects are not followed: a 3xx is not retryable, naming where it
 * points, so the configured URL can be fixed.
 *
 * @throws ValidationError naming the option at fault.
 * @example
 * ```ts
 * const publisher = webhookPublisher({ url: 'https://billing.example.com/annals', secret: process.env.WEBHOOK_SECRET! });
 * ```
 */
export function webhookPublisher(options: WebhookPublisherOptions): Publisher {
  const { url, secret } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const invalid = (field: string, reason: string) => new ValidationError([{ field: `options.${field}`, reason }]);
  if (typeof url === 'string' || url instanceof URL) {
    if (!isHttpUrl(url)) throw invalid('url', `'${String(url)}' is not an http(s) URL`);
  } else if (typeof url !== 'function') {
    throw invalid('url', 'must be a URL or a function of the message returning one');
  }
  if (secret === undefined || secret.length === 0) throw invalid('secret', 'must not be empty: the receiver verifies the signature with it');
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw invalid('timeoutMs', 'must be a number of milliseconds above 0');

  return {
    kind: 'webhook',
    async publish(message, publishOptions = {}) {
      const body = encodeEnvelope(message);
      // Anything wrong in building the request is wrong for every attempt: not retryable.
      let target: URL;
      let headers: Headers;
      try {
        target = new URL(typeof url === 'function' ? url(message) : url);
        if (!isHttpUrl(target)) throw new Error(`'${target.href}' is not an http(s) URL`);
        const extra = typeof options.headers === 'function' ? options.headers(message) : options.headers;
        headers = new Headers(extra);
        const timestamp = Math.floor(Date.now() / 1000);
        headers.set('content-type', 'application/json');
        headers.set(WebhookHeaders.messageId, message.id);
        headers.set(WebhookHeaders.timestamp, String(timestamp));
        headers.set(WebhookHeaders.signature, signWebhook({ secret, timestamp, body }));
      } catch (error) {
        throw publishError(message, `building the webhook request: ${describeError(error)}`, false, error);
      }

      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = publishOptions.signal === undefined ? timeout : AbortSignal.any([publishOptions.signal, timeout]);
      const where = `POST ${target.origin}${target.pathname}`;
      let response: Response;
      try {
        response = await fetch(target, { method: 'POST', body, headers, signal, redirect: 'manual' });
      } catch (error) {
        const reason = timeout.aborted ? `no answer within ${timeoutMs} ms` : publishOptions.signal?.aborted ? 'aborted' : `request failed: ${describeError(error)}`;
        throw publishError(message, `${where}: ${reason}`, true, error);
      }
      // Read (a little of) the answer: it frees the connection, and a refusal's text is
      // what an operator needs to see on the parked message.
      const answer = await response.text().catch(() => '');
      const status = response.status;
      if (status >= 200 && status < 300) return;
      const said = answer.trim() === '' ? '' : `: ${answer.trim().slice(0, 300)}`;
      if (status >= 300 && status < 400) {
        throw publishError(message, `${where}: answered ${status}, a redirect to ${response.headers.get('location') ?? 'nowhere'} (not followed: configure the final URL)`, false);
      }
      const retryable = status === 408 || status === 429 || status >= 500;
      throw publishError(message, `${where}: answered ${status}${said}`, retryable);
    },
    async close() {
      // fetch keeps no connection of ours to release.
    },
  };
}

function isHttpUrl(url: string | URL): boolean {
  try {
    const { protocol } = new URL(url);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}
