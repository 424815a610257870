import { afterEach, describe, expect, it, vi } from 'vitest';
import { EventSchemaError, ValidationError } from '../../src/index.js';
import { afterFailure, type FailurePolicy } from '../../src/consumers/failure-policy.js';

const policy: FailurePolicy = { attempts: 3, minDelayMs: 10, maxDelayMs: 1000, onFailure: 'dead-letter' };
const stopping: FailurePolicy = { ...policy, onFailure: 'stop' };
const undecodable = new EventSchemaError({ streamId: 'post-1', version: 2, id: '0f6c5c2e-1d7a-4a8e-9d41-2f1a7b0c9e11', type: 'LikeCreated', schemaVersion: 1 }, 'data does not fit');
const serviceDown = new Error('connect ECONNREFUSED mail-relay:25');

afterEach(() => {
  vi.restoreAllMocks();
});

describe('afterFailure', () => {
  it('retries while attempts remain and the error is retryable', () => {
    expect(afterFailure(serviceDown, { attempt: 1, event: true }, policy).kind).toBe('retry');
    expect(afterFailure(serviceDown, { attempt: 2, event: true }, policy).kind).toBe('retry');
    // Any error of the handler's own is retryable, an AnnalsError included: only an event that cannot be decoded is not.
    expect(afterFailure(new ValidationError([{ field: 'x', reason: 'bad' }]), { attempt: 1, event: true }, policy).kind).toBe('retry');
    expect(afterFailure('a thrown string', { attempt: 1, event: true }, policy).kind).toBe('retry');
  });

  it('waits between minDelayMs and a ceiling of minDelayMs * 2^attempt, capped at maxDelayMs', () => {
    const random = vi.spyOn(Math, 'random');
    const ceilings = [
      { attempt: 1, ceiling: 20 },
      { attempt: 2, ceiling: 40 },
    ];
    for (const { attempt, ceiling } of ceilings) {
      random.mockReturnValue(0);
      expect(afterFailure(serviceDown, { attempt, event: true }, policy)).toEqual({ kind: 'retry', delayMs: 10 });
      random.mockReturnValue(1 - Number.EPSILON);
      const longest = afterFailure(serviceDown, { attempt, event: true }, policy);
      expect(longest.kind).toBe('retry');
      expect((longest as { delayMs: number }).delayMs).toBeCloseTo(ceiling, 6);
    }
    // Many attempts: the ceiling is maxDelayMs.
    random.mockReturnValue(1 - Number.EPSILON);
    const late = afterFailure(serviceDown, { attempt: 20, event: true }, { ...policy, attempts: 50 });
    expect((late as { delayMs: number }).delayMs).toBeCloseTo(1000, 6);
    random.mockRestore();
    for (let i = 0; i < 200; i++) {
      const next = afterFailure(serviceDown, { attempt: 2, event: true }, policy);
      if (next.kind !== 'retry') throw new Error(`expected a retry, got ${next.kind}`);
      expect(next.delayMs).toBeGreaterThanOrEqual(10);
      expect(next.delayMs).toBeLessThanOrEqual(40);
    }
  });

  it('dead-letters after the last attempt', () => {
    expect(afterFailure(serviceDown, { attempt: 3, event: true }, policy)).toEqual({ kind: 'dead-letter' });
    // Past the last (a policy lowered between attempts): still no retry.
    expect(afterFailure(serviceDown, { attempt: 4, event: true }, policy)).toEqual({ kind: 'dead-letter' });
    // One attempt in all: the first failure is the last.
    expect(afterFailure(serviceDown, { attempt: 1, event: true }, { ...policy, attempts: 1 })).toEqual({ kind: 'dead-letter' });
  });

  it('does not retry an event the schemas cannot decode (EventSchemaError): every attempt would fail the same way', () => {
    expect(afterFailure(undecodable, { attempt: 1, event: true }, policy)).toEqual({ kind: 'dead-letter' });
    expect(afterFailure(undecodable, { attempt: 1, event: true }, stopping)).toEqual({ kind: 'stop' });
  });

  it("stops instead of dead-lettering with onFailure 'stop', after the same retries", () => {
    expect(afterFailure(serviceDown, { attempt: 1, event: true }, stopping).kind).toBe('retry');
    expect(afterFailure(serviceDown, { attempt: 2, event: true }, stopping).kind).toBe('retry');
    expect(afterFailure(serviceDown, { attempt: 3, event: true }, stopping)).toEqual({ kind: 'stop' });
  });

  it('stops when there is no single event to blame: nothing could be dead-lettered', () => {
    expect(afterFailure(serviceDown, { attempt: 3, event: false }, policy)).toEqual({ kind: 'stop' });
    expect(afterFailure(undecodable, { attempt: 1, event: false }, policy)).toEqual({ kind: 'stop' });
    // While attempts remain, it is retried like any other failure.
    expect(afterFailure(serviceDown, { attempt: 1, event: false }, policy).kind).toBe('retry');
  });
});
