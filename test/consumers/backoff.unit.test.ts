import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, sleep } from '../../src/backoff.js';

const options = { minDelayMs: 100, maxDelayMs: 5000 };
const justBelowOne = 1 - Number.EPSILON;

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

/** The shortest and the longest wait backoffDelay can pick for `attempt` (Math.random at 0 and just below 1). */
function bounds(attempt: number, settings = options): { shortest: number; longest: number } {
  const random = vi.spyOn(Math, 'random').mockReturnValue(0);
  const shortest = backoffDelay(attempt, settings);
  random.mockReturnValue(justBelowOne);
  const longest = backoffDelay(attempt, settings);
  random.mockRestore();
  return { shortest, longest };
}

describe('backoffDelay', () => {
  it('waits between min and min * 2^attempt, capped at max', () => {
    for (let attempt = 1; attempt <= 10; attempt++) {
      const { shortest, longest } = bounds(attempt);
      expect(shortest, `attempt ${attempt}`).toBe(100);
      expect(longest, `attempt ${attempt}`).toBeCloseTo(Math.min(5000, 100 * 2 ** attempt), 6);
    }
  });

  it('spreads its waits over the whole range (jitter), never outside it', () => {
    const delays = Array.from({ length: 500 }, () => backoffDelay(3, options));
    for (const delay of delays) {
      expect(delay).toBeGreaterThanOrEqual(100);
      expect(delay).toBeLessThanOrEqual(800);
    }
    // 500 draws from [100, 800]: all in one half would mean the jitter is broken.
    expect(delays.some((delay) => delay < 450)).toBe(true);
    expect(delays.some((delay) => delay > 450)).toBe(true);
  });

  it('treats an attempt of 0 or below as attempt 1', () => {
    const first = bounds(1);
    for (const attempt of [0, -1, -1000]) expect(bounds(attempt), `attempt ${attempt}`).toEqual(first);
  });

  it('stays finite and at most max for huge attempts (2^attempt would overflow to Infinity)', () => {
    for (const attempt of [31, 1024, 1e6, Number.MAX_SAFE_INTEGER, Number.POSITIVE_INFINITY]) {
      const { shortest, longest } = bounds(attempt);
      expect(Number.isFinite(longest), `attempt ${attempt}`).toBe(true);
      expect(shortest).toBe(100);
      expect(longest).toBeCloseTo(5000, 6);
    }
    // A minimum of 0: 0 * Infinity would be NaN, and NaN waits are no waits at all.
    expect(bounds(1e6, { minDelayMs: 0, maxDelayMs: 100 })).toEqual({ shortest: 0, longest: 0 });
    // A tiny minimum, where 2^attempt alone decides whether the cap is reached.
    const { longest } = bounds(1e9, { minDelayMs: 0.001, maxDelayMs: 60_000 });
    expect(longest).toBeLessThanOrEqual(60_000);
    expect(Number.isFinite(longest)).toBe(true);
  });

  it('never waits less than min, even with max below it', () => {
    expect(bounds(5, { minDelayMs: 300, maxDelayMs: 100 })).toEqual({ shortest: 300, longest: 300 });
    expect(bounds(5, { minDelayMs: 0, maxDelayMs: 0 })).toEqual({ shortest: 0, longest: 0 });
  });
});

describe('sleep', () => {
  /** Whether `promise` has settled, once pending callbacks have run. */
  async function settled(promise: Promise<void>): Promise<boolean> {
    let done = false;
    void promise.then(() => (done = true));
    await vi.advanceTimersByTimeAsync(0);
    return done;
  }

  it('resolves after ms, not before, and leaves no listener on the signal', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const waiting = sleep(1000, controller.signal);
    await vi.advanceTimersByTimeAsync(999);
    expect(await settled(waiting)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(waiting)).toBe(true);
    // The engine sleeps thousands of times on one long-lived signal: a listener left per sleep would leak.
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('resolves early when the signal aborts, and clears its timer', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const waiting = sleep(60_000, controller.signal);
    expect(await settled(waiting)).toBe(false);
    controller.abort();
    expect(await settled(waiting)).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('resolves at once, with no timer, when the signal is already aborted', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    controller.abort();
    const waiting = sleep(60_000, controller.signal);
    expect(vi.getTimerCount()).toBe(0);
    expect(await settled(waiting)).toBe(true);
  });

  it('resolves (never rejects) on abort: a stop is not an error for whoever waits to retry', async () => {
    const controller = new AbortController();
    const waiting = sleep(60_000, controller.signal);
    controller.abort(new Error('stopping'));
    await expect(waiting).resolves.toBeUndefined();
  });
});
