/**
 * Waiting before a retry, shared by every layer that retries (commands that lost a race,
 * consumers whose handler or database failed). One definition, so that "attempt 1" means
 * the same wait everywhere.
 */

export interface BackoffOptions {
  /** The shortest wait, in ms. */
  minDelayMs: number;
  /** The longest wait, in ms. */
  maxDelayMs: number;
}

/**
 * Full jitter: a random wait between `minDelayMs` and a ceiling that starts at twice it
 * for attempt 1 and doubles with each attempt (capped at `maxDelayMs`). Writers or
 * workers that failed together then spread out instead of colliding again after the same
 * fixed wait.
 *
 * @example
 * ```ts
 * await sleep(backoffDelay(attempt, { minDelayMs: 100, maxDelayMs: 5000 }));
 * ```
 */
export function backoffDelay(attempt: number, { minDelayMs, maxDelayMs }: BackoffOptions): number {
  const ceiling = Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(Math.max(attempt, 1), 30));
  return minDelayMs + Math.random() * Math.max(0, ceiling - minDelayMs);
}

/**
 * Waits `ms`, or less when `signal` is aborted first (resolves either way: a stop is not
 * an error for whoever was waiting to retry).
 *
 * @example
 * ```ts
 * await sleep(250, stopping.signal);
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
