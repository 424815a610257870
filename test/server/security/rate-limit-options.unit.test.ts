import { describe, expect, it } from 'vitest';
import { securityFromEnvironment } from '../../../src/server/security/security-environment.js';
import { checkSecurityOptions, type SecurityOptions } from '../../../src/server/security/security-options.js';
import { failure } from './support/security-fixtures.js';

// Where the rate limits' counts live: `rateLimit.store` and ANNALS_RATE_LIMIT_STORE.


describe('rateLimit.store', () => {
  it('is kept as given; not given, it is left to the backend (the database unless PGlite)', () => {
    expect(checkSecurityOptions({ rateLimit: { store: 'memory' } }).rateLimitStore).toBe('memory');
    expect(checkSecurityOptions({ rateLimit: { store: 'database', mutations: { max: 5, windowMs: 1000 } } })).toMatchObject({
      rateLimitStore: 'database',
      mutationRateLimit: { max: 5, windowMs: 1000 },
    });
    expect(checkSecurityOptions({}).rateLimitStore).toBeUndefined();
    expect(checkSecurityOptions({ rateLimit: false }).rateLimitStore).toBeUndefined();
  });

  it('anything else is a ValidationError naming the field', () => {
    const error = failure(() => checkSecurityOptions({ rateLimit: { store: 'redis' } } as unknown as SecurityOptions));
    expect(error.issues).toEqual([{ field: 'options.security.rateLimit.store', reason: "must be 'database' or 'memory'" }]);
  });
});

describe('ANNALS_RATE_LIMIT_STORE', () => {
  it('sets the store, alone or with ANNALS_MUTATION_RATE_LIMIT', () => {
    expect(securityFromEnvironment({ ANNALS_RATE_LIMIT_STORE: 'memory' }).rateLimit).toEqual({ store: 'memory' });
    expect(securityFromEnvironment({ ANNALS_RATE_LIMIT_STORE: 'Database', ANNALS_MUTATION_RATE_LIMIT: '10/s' }).rateLimit).toEqual({
      mutations: { max: 10, windowMs: 1000 },
      store: 'database',
    });
    expect(securityFromEnvironment({ ANNALS_RATE_LIMIT_STORE: '' }).rateLimit).toBeUndefined();
  });

  it('anything else is a ValidationError naming the variable', () => {
    const error = failure(() => securityFromEnvironment({ ANNALS_RATE_LIMIT_STORE: 'redis' }));
    expect(error.issues).toEqual([
      { field: 'ANNALS_RATE_LIMIT_STORE', reason: "must be database (counts shared by every API process) or memory (each process counts on its own); not 'redis'" },
    ]);
  });
});
