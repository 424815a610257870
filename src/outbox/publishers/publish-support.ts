/**
 * What the three publishers share: subject and routing-key tokens, the PublishError for a
 * message, and waiting on a broker's answer under the relay's abort signal.
 */
import { PublishError } from '../../errors.js';
import type { OutboxMessage } from '../message.js';

/**
 * One token of a NATS subject or an AMQP routing key, from a category or a type.
 *
 * NATS subjects are tokens separated by `.`; a token cannot hold whitespace, `.`, `*` or
 * `>`, nor be empty. AMQP topic routing keys are words separated by `.`, and bindings give
 * `*` and `#` a meaning. Each of those characters becomes `_`, and an empty token `_`, so
 * that `<category>.<type>` is always exactly two tokens and names the same thing on both
 * brokers. The mapping can merge names (`Post Liked` and `Post_Liked`); the envelope keeps
 * the exact type, and a subject or routing-key function of your own replaces the mapping.
 *
 * @example
 * ```ts
 * routingToken('order.placed'); // 'order_placed'
 * ```
 */
export function routingToken(value: string): string {
  const token = value.replace(/[\s.*>#]/g, '_');
  return token === '' ? '_' : token;
}

/**
 * The subject or routing key of `message`, from `build` (the default, or the user's
 * function): a function that throws for a message throws for it every time, so that is
 * not retryable.
 */
export function nameOf(message: OutboxMessage, what: string, build: () => string): string {
  try {
    return build();
  } catch (error) {
    throw publishError(message, `the ${what} function threw: ${describeError(error)}`, false, error);
  }
}

/** A PublishError for `message`. */
export function publishError(message: OutboxMessage, reason: string, retryable: boolean, cause?: unknown): PublishError {
  return new PublishError({ destination: message.destination, messageId: message.id }, reason, cause === undefined ? { retryable } : { retryable, cause });
}

/**
 * Waits for `answer` (a broker's ack), failing with a retryable PublishError when the
 * relay aborts or `timeoutMs` passes first. Either way the broker may still accept the
 * message later: that is safe, since a retry carries the same id and the broker (or the
 * receiver's inbox) drops the duplicate.
 */
export async function awaitAnswer<T>(message: OutboxMessage, answer: Promise<T>, options: { signal?: AbortSignal | undefined; timeoutMs?: number; waitingFor: string }): Promise<T> {
  const { signal, timeoutMs, waitingFor } = options;
  // Nothing to race against: the answer itself (no timer, no listener, no extra promises
  // per message on the relay's path).
  if (signal === undefined && timeoutMs === undefined) return answer;
  if (signal?.aborted) {
    answer.catch(() => {});
    throw publishError(message, `aborted before ${waitingFor}`, true, signal.reason);
  }
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_resolve, reject) => {
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => reject(publishError(message, `no ${waitingFor} within ${timeoutMs} ms`, true)), timeoutMs);
    }
    if (signal !== undefined) {
      onAbort = () => reject(publishError(message, `aborted while waiting for ${waitingFor}`, true, signal.reason));
      signal.addEventListener('abort', onAbort, { once: true });
    }
  });
  try {
    return await Promise.race([answer, stop]);
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    // The losing side of the race must not become an unhandled rejection.
    answer.catch(() => {});
    stop.catch(() => {});
  }
}

/** `error`'s message, for a PublishError's reason. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error && error.cause.message !== error.message ? ` (${error.cause.message})` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}

const lineBreak = /[\r\n]/;
const lineBreaks = /[\r\n]/g;

/**
 * The message's routing facts as broker headers (NATS headers, AMQP headers), so a
 * receiver can route or log without parsing the body; the envelope in the body stays the
 * authority. Lower-case names, the same on every broker. Line breaks, which NATS header
 * values cannot hold, become spaces.
 */
export function messageHeaders(message: OutboxMessage): Record<string, string> {
  const headers: Record<string, string> = {
    'annals-type': message.type,
    'annals-schema-version': String(message.schemaVersion),
    'annals-key': message.key,
    'annals-position': message.position,
  };
  if (message.correlationId !== undefined) headers['annals-correlation-id'] = message.correlationId;
  if (message.causationId !== undefined) headers['annals-causation-id'] = message.causationId;
  for (const name in headers) {
    const value = headers[name]!;
    if (lineBreak.test(value)) headers[name] = value.replace(lineBreaks, ' ');
  }
  return headers;
}
