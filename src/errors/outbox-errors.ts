/** Errors of the outbox: publishing to a broker or a webhook. */
import { AnnalsError, ErrorCodes } from './annals-error.js';

/** Where a publish failed: the message and its destination. */
export interface PublishTarget {
  /** The destination declared in the outbox (`likes`). */
  destination: string;
  /** The message's id (stable across retries: the broker's dedupe id). */
  messageId: string;
}

/**
 * A publisher could not get a message accepted by its broker. `retryable` says whether the
 * same message may go through later (broker unreachable, timeout, no ack: true) or never
 * will as it is (too large, refused by the broker's rules, a 4xx from a webhook: false).
 * The relay retries the first kind with backoff and parks the second kind at once, holding
 * its key (docs/outbox.md).
 *
 * @example
 * ```ts
 * throw new PublishError({ destination: 'likes', messageId }, 'payload of 2 MB over the 1 MB limit', { retryable: false });
 * ```
 */
export class PublishError extends AnnalsError {
  readonly destination: string;
  readonly messageId: string;
  readonly retryable: boolean;
  readonly reason: string;

  constructor(target: PublishTarget, reason: string, options: { retryable: boolean; cause?: unknown }) {
    super(ErrorCodes.publish, `publishing message ${target.messageId} to '${target.destination}': ${reason}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.destination = target.destination;
    this.messageId = target.messageId;
    this.retryable = options.retryable;
    this.reason = reason;
  }
}
