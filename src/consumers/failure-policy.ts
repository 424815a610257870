import { backoffDelay } from '../backoff.js';
import { isRetryable } from './failures.js';

/** What a consumer does when its handler failed on one event. */
export interface FailurePolicy {
  /** Attempts in all, the first included (default 5). */
  attempts: number;
  minDelayMs: number;
  maxDelayMs: number;
  /** After the last attempt: dead-letter the event and go on, or stop the partition. */
  onFailure: 'dead-letter' | 'stop';
}

export type AfterFailure = { kind: 'retry'; delayMs: number } | { kind: 'dead-letter' } | { kind: 'stop' };

/**
 * The decision after attempt `attempt` at an event failed: retry after a backoff while
 * attempts remain and a retry can cure the failure (isRetryable: an event the schemas
 * cannot decode fails the same way each time); then dead-letter it, or stop the
 * partition. A failure with no single event to blame (a batch that failed before the
 * culprit was isolated) cannot be dead-lettered: it stops.
 *
 * @example
 * ```ts
 * afterFailure(new Error('timeout'), { attempt: 1, event: true }, policy); // { kind: 'retry', delayMs: 183 }
 * ```
 */
export function afterFailure(error: unknown, at: { attempt: number; event: boolean }, policy: FailurePolicy): AfterFailure {
  if (isRetryable(error) && at.attempt < policy.attempts) {
    return { kind: 'retry', delayMs: backoffDelay(at.attempt, policy) };
  }
  if (policy.onFailure === 'stop' || !at.event) return { kind: 'stop' };
  return { kind: 'dead-letter' };
}
