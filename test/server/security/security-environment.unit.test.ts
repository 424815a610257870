import { describe, expect, it } from 'vitest';
import { apiKeyMatcher, apiKeysFromEnvironment } from '../../../src/server/security/api-keys.js';
import { securityFromEnvironment } from '../../../src/server/security/security-environment.js';
import { failure, rsa } from './support/security-fixtures.js';

const key1 = 'Zm9vYmFyYmF6cXV4cXV1eA';
const key2 = 'c2VjcmV0c2VjcmV0MTIzNDU2';


describe('ANNALS_API_KEYS', () => {
  it('name:key gets every role the service checks; name:key:roles the roles joined with +', () => {
    expect(apiKeysFromEnvironment(`ci:${key1}, console:${key2}:admin+auditor`)).toEqual([
      { name: 'ci', key: key1, roles: ['writer', 'admin'] },
      { name: 'console', key: key2, roles: ['admin', 'auditor'] },
    ]);
    expect(apiKeysFromEnvironment(`reader:${key1}:reader`)).toEqual([{ name: 'reader', key: key1, roles: ['reader'] }]);
  });

  it('unset or blank: no keys', () => {
    expect(apiKeysFromEnvironment(undefined)).toEqual([]);
    expect(apiKeysFromEnvironment('  ')).toEqual([]);
  });

  it.each([
    [`ci:${key1},`, 'entry 2 is empty (entries are name:key or name:key:role+role, separated by commas)'],
    [key1, 'entry 1 has no key: write it name:key or name:key:role+role'],
    ['ci:short', "entry 1 ('ci'): the key must be at least 16 characters (openssl rand -base64 32 makes a good one)"],
    [`ci:${key1}!!`, "entry 1 ('ci'): the key must be a bearer token: letters, digits, - . _ ~ + / and trailing ="],
    [`ci:${key1}:writer:extra`, "entry 1 ('ci') has more than three parts: a key cannot contain ':'"],
    [`ci:${key1}:Writer`, "entry 1 ('ci'): the roles must be a role name: a lowercase letter, then up to 31 lowercase letters, digits, _ or - (join several with +: writer+admin)"],
    [`ci:${key1}:`, "entry 1 ('ci'): the roles must be a role name: a lowercase letter, then up to 31 lowercase letters, digits, _ or - (join several with +: writer+admin)"],
    [`c i:${key1}`, 'entry 1: the name must be 1 to 64 letters, digits, _, . or -'],
    [`ci:${key1},ci:${key2}`, "entry 2 ('ci'): the name is given twice"],
    [`ci:${key1},cd:${key1}`, "entry 2 ('cd'): the key is the key of another entry"],
  ])('%s: refused with a ValidationError on ANNALS_API_KEYS', (value, reason) => {
    const error = failure(() => apiKeysFromEnvironment(value));
    expect(error.field).toBe('ANNALS_API_KEYS');
    expect(error.reason).toBe(reason);
  });

  it('a refusal never quotes a key, not even one given without a name', () => {
    const error = failure(() => apiKeysFromEnvironment(`ci:${key1}:Bad,cd:${key1},${key2}`));
    expect(error.issues.map((issue) => issue.field)).toEqual(['ANNALS_API_KEYS', 'ANNALS_API_KEYS', 'ANNALS_API_KEYS']);
    for (const issue of error.issues) for (const key of [key1, key2]) expect(issue.reason).not.toContain(key);
  });
});

describe('apiKeyMatcher', () => {
  const match = apiKeyMatcher(apiKeysFromEnvironment(`ci:${key1}:writer,console:${key2}:admin`));

  it('a key: its principal; anything else: none', () => {
    expect(match(key1)).toEqual({ subject: 'ci', roles: ['writer'], via: 'api-key' });
    expect(match(key2)).toEqual({ subject: 'console', roles: ['admin'], via: 'api-key' });
    for (const other of ['', key1.slice(0, -1), `${key1}=`, key1.toLowerCase(), `${key1} `]) expect(match(other)).toBeUndefined();
  });
});

describe('securityFromEnvironment', () => {
  it('reads every variable it knows, and nothing when none is set', () => {
    expect(securityFromEnvironment({})).toEqual({});
    expect(securityFromEnvironment({ ANNALS_API_KEYS: '', ANNALS_CORS_ORIGINS: ' ' })).toEqual({});
    expect(
      securityFromEnvironment({
        ANNALS_API_KEYS: `ci:${key1}:writer`,
        ANNALS_JWT_SECRET: 'a-shared-hmac-secret-of-at-least-32-characters',
        ANNALS_JWT_ISSUER: 'https://id.example.com/',
        ANNALS_JWT_AUDIENCE: 'annals, annals-staging',
        ANNALS_JWT_ROLES_CLAIM: 'realm_access.roles',
        ANNALS_REQUIRE_TOKEN_FOR_READS: 'true',
        ANNALS_OPEN_MUTATIONS: 'false',
        ANNALS_CORS_ORIGINS: 'https://app.example.com, http://localhost:5173',
        ANNALS_MUTATION_RATE_LIMIT: '100/1m',
      }),
    ).toEqual({
      apiKeys: [{ name: 'ci', key: key1, roles: ['writer'] }],
      jwt: {
        secret: 'a-shared-hmac-secret-of-at-least-32-characters',
        issuer: ['https://id.example.com/'],
        audience: ['annals', 'annals-staging'],
        rolesClaim: 'realm_access.roles',
      },
      requireTokenForReads: true,
      openMutations: false,
      cors: { origins: ['https://app.example.com', 'http://localhost:5173'] },
      rateLimit: { mutations: { max: 100, windowMs: 60_000 } },
    });
  });

  it('a public key with \\n for newlines; * for any origin; off for no rate limit; 10/s', () => {
    const oneLine = rsa.publicKey.trim().replace(/\n/g, '\\n');
    const options = securityFromEnvironment({ ANNALS_JWT_PUBLIC_KEY: oneLine, ANNALS_CORS_ORIGINS: '*', ANNALS_MUTATION_RATE_LIMIT: 'off' });
    expect(options.jwt).toEqual({ publicKey: rsa.publicKey.trim() });
    expect(options.cors).toEqual({ origins: '*' });
    expect(options.rateLimit).toEqual({ mutations: false });
    expect(securityFromEnvironment({ ANNALS_MUTATION_RATE_LIMIT: '10/s' }).rateLimit).toEqual({ mutations: { max: 10, windowMs: 1000 } });
  });

  it.each([
    [{ ANNALS_JWT_SECRET: 'too-short' }, 'ANNALS_JWT_SECRET', 'must be at least 32 characters: an HMAC key shorter than its hash (256 bits) is guessable'],
    [{ ANNALS_JWT_SECRET: 'a-shared-hmac-secret-of-at-least-32-characters', ANNALS_JWT_PUBLIC_KEY: rsa.publicKey }, 'ANNALS_JWT_SECRET', "is set with ANNALS_JWT_PUBLIC_KEY: give one (a shared secret, or the issuer's public key)"],
    [{ ANNALS_JWT_PUBLIC_KEY: 'ssh-rsa AAAA' }, 'ANNALS_JWT_PUBLIC_KEY', 'must be a PEM public key (-----BEGIN PUBLIC KEY-----; \\n may stand for newlines)'],
    [{ ANNALS_JWT_ISSUER: 'https://id.example.com/' }, 'ANNALS_JWT_ISSUER', 'is set, but neither ANNALS_JWT_SECRET nor ANNALS_JWT_PUBLIC_KEY: JWTs cannot be checked without one'],
    [{ ANNALS_REQUIRE_TOKEN_FOR_READS: 'maybe' }, 'ANNALS_REQUIRE_TOKEN_FOR_READS', "must be true or false, not 'maybe'"],
    [{ ANNALS_OPEN_MUTATIONS: 'yes please' }, 'ANNALS_OPEN_MUTATIONS', "must be true or false, not 'yes please'"],
    [{ ANNALS_CORS_ORIGINS: 'https://app.example.com/path' }, 'ANNALS_CORS_ORIGINS', "'https://app.example.com/path' is not an origin: write scheme and host (and port), no path, such as https://app.example.com; separate several with commas"],
    [{ ANNALS_MUTATION_RATE_LIMIT: '100 per minute' }, 'ANNALS_MUTATION_RATE_LIMIT', "must be max/window, such as 600/1m or 10/s (units ms, s, m, h), or off; not '100 per minute'"],
    [{ ANNALS_MUTATION_RATE_LIMIT: '100/0m' }, 'ANNALS_MUTATION_RATE_LIMIT', "must be max/window, such as 600/1m or 10/s (units ms, s, m, h), or off; not '100/0m'"],
    [{ ANNALS_API_KEYS: 'ci' }, 'ANNALS_API_KEYS', 'entry 1 has no key: write it name:key or name:key:role+role'],
  ])('%o: a ValidationError on %s', (env, field, reason) => {
    const error = failure(() => securityFromEnvironment(env));
    expect(error.field).toBe(field);
    expect(error.reason).toBe(reason);
  });

  it('reports every variable at fault at once', () => {
    const error = failure(() => securityFromEnvironment({ ANNALS_API_KEYS: 'ci:short', ANNALS_OPEN_MUTATIONS: 'sure', ANNALS_CORS_ORIGINS: 'nope' }));
    expect(error.issues.map((issue) => issue.field)).toEqual(['ANNALS_API_KEYS', 'ANNALS_OPEN_MUTATIONS', 'ANNALS_CORS_ORIGINS']);
  });
});
