import { describe, expect, it } from 'vitest';
import { ConnectionTimeoutError } from '../../src/index.js';
import { isTransientDatabaseError } from '../../src/consumers/failures.js';

const withCode = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

describe('isTransientDatabaseError', () => {
  it('holds for faults of the database that a retry of the same work can get past', () => {
    for (const code of ['08006', '08001', '40P01', '40001', '55P03', '57P01', '53300', 'ECONNREFUSED', 'ECONNRESET']) {
      expect(isTransientDatabaseError(withCode(code)), code).toBe(true);
    }
    expect(isTransientDatabaseError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isTransientDatabaseError(new Error('wrapped', { cause: withCode('40P01') }))).toBe(true);
    // A pool busy past connectionTimeoutMs: over when its connections come free.
    expect(isTransientDatabaseError(new ConnectionTimeoutError('busy', { timeoutMs: 1, poolSize: 1, backend: 'postgres' }))).toBe(true);
  });

  it('does not hold for what fails again each time: a handler would never be isolated nor dead-lettered', () => {
    // 08P01 (protocol violation) is what a statement with more than 65,535 parameters
    // gets: a batch handler's multi-row insert on a large replay batch, say.
    for (const code of ['08P01', '23505', '42P01', '22P02', '40002']) {
      expect(isTransientDatabaseError(withCode(code)), code).toBe(false);
    }
    expect(isTransientDatabaseError(new Error('refusing post 1'))).toBe(false);
    expect(isTransientDatabaseError('a string')).toBe(false);
  });
});
