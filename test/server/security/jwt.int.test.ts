import { describe, expect, it } from 'vitest';
import type { JwtOptions } from '../../../src/server/security/security-options.js';
import { ValidationError } from '../../../src/errors.js';
import { createTestStore } from '../../setup/database.js';
import { postGraphQL, startService } from '../support/http.js';
import { bearer, counterResolvers, counterSchema, epoch, jwtSecret, rsa, signJwt } from './support/security-fixtures.js';

// JWTs over real HTTP, signed in the test with node:crypto: what a valid token may do, and
// each reason one is refused (401 UNAUTHENTICATED, a message that never quotes the token).
const store = await createTestStore('security_jwt');

async function start(jwt: JwtOptions) {
  const counter = counterResolvers();
  const service = await startService({ store, schema: counterSchema, resolvers: counter.resolvers, security: { jwt } });
  return { url: service.url, likes: counter.likes };
}

const valid = (claims: Record<string, unknown> = {}) => ({ sub: 'ada', roles: ['writer'], exp: epoch(600), ...claims });

async function refusal(url: string, token: string): Promise<{ status: number; message: string | undefined; code: string | undefined }> {
  const { status, body } = await postGraphQL(url, { query: '{ whoami }' }, bearer(token));
  return { status, message: body.errors?.[0]?.message, code: body.errors?.[0]?.extensions.code };
}

describe('JWT with a shared secret (HS256)', () => {
  it('a valid writer token: the mutation runs, the principal is its sub', async () => {
    const { url, likes } = await start({ secret: jwtSecret });
    const token = signJwt(valid());
    expect((await postGraphQL(url, { query: 'mutation { like }' }, bearer(token))).body).toEqual({ data: { like: 1 } });
    expect((await postGraphQL(url, { query: '{ whoami }' }, bearer(token))).body).toEqual({ data: { whoami: 'ada' } });
    expect(likes()).toBe(1);
  });

  it('a valid token without the writer role: 403 on a mutation', async () => {
    const { url } = await start({ secret: jwtSecret });
    const { status, body } = await postGraphQL(url, { query: 'mutation { like }' }, bearer(signJwt(valid({ roles: ['reader'] }))));
    expect(status).toBe(403);
    expect(body.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
  });

  it('refuses, each with its reason: expired, not yet valid, bad signature, no exp, no sub, alg none, garbage', async () => {
    const { url, likes } = await start({ secret: jwtSecret });
    const cases: [string, string][] = [
      [signJwt(valid({ exp: epoch(-3600) })), 'the bearer token has expired: get a new one'],
      [signJwt(valid({ nbf: epoch(3600) })), "the bearer token is not valid yet (its 'nbf' is in the future)"],
      [signJwt(valid(), { secret: 'another-secret-that-is-also-32-characters-long' }), 'the bearer token is not accepted: the token signature is invalid.'],
      [signJwt({ sub: 'ada', roles: ['writer'] }), 'the bearer token is not accepted: the exp claim is required.'],
      [signJwt({ roles: ['writer'], exp: epoch(600) }), 'the bearer token is not accepted: the sub claim is required.'],
      [signJwt(valid(), { secret: jwtSecret }, { alg: 'none' }), 'the bearer token is not accepted: the token signature is missing.'],
    ];
    for (const [token, message] of cases) {
      const answer = await refusal(url, token);
      expect(answer).toEqual({ status: 401, message, code: 'UNAUTHENTICATED' });
      expect(answer.message).not.toContain(token.split('.')[1]);
    }
    expect((await refusal(url, 'not.a.jwt')).status).toBe(401);
    expect((await refusal(url, 'neither-a-jwt-nor-a-key')).message).toBe('the bearer token is not accepted: it is no API key of this service nor a JWT');
    expect(likes()).toBe(0);
  });

  it('an HS256 token refused by a service that allows HS512 only', async () => {
    const { url } = await start({ secret: jwtSecret, algorithms: ['HS512'] });
    expect(await refusal(url, signJwt(valid()))).toEqual({ status: 401, message: 'the bearer token is not accepted: the token algorithm is invalid.', code: 'UNAUTHENTICATED' });
  });

  it('requireExpiry: false accepts a token without exp', async () => {
    const { url } = await start({ secret: jwtSecret, requireExpiry: false });
    expect((await postGraphQL(url, { query: '{ whoami }' }, bearer(signJwt({ sub: 'svc' })))).body).toEqual({ data: { whoami: 'svc' } });
  });
});

describe('issuer and audience', () => {
  const options: JwtOptions = { secret: jwtSecret, issuer: 'https://id.example.com/', audience: ['annals', 'annals-staging'] };

  it('a token of the issuer, for one of the audiences, passes', async () => {
    const { url } = await start(options);
    const token = signJwt(valid({ iss: 'https://id.example.com/', aud: 'annals-staging' }));
    expect((await postGraphQL(url, { query: 'mutation { like }' }, bearer(token))).body).toEqual({ data: { like: 1 } });
  });

  it('a wrong issuer, a missing issuer, a wrong audience, a missing audience: 401', async () => {
    const { url } = await start(options);
    const cases: [Record<string, unknown>, string][] = [
      [{ iss: 'https://evil.example.com/', aud: 'annals' }, 'the bearer token is not accepted: the iss claim value is not allowed.'],
      [{ aud: 'annals' }, 'the bearer token is not accepted: the iss claim is required.'],
      [{ iss: 'https://id.example.com/', aud: 'billing' }, 'the bearer token is not accepted: the aud claim value is not allowed.'],
      [{ iss: 'https://id.example.com/' }, 'the bearer token is not accepted: the aud claim is required.'],
    ];
    for (const [claims, message] of cases) {
      expect(await refusal(url, signJwt(valid(claims)))).toEqual({ status: 401, message, code: 'UNAUTHENTICATED' });
    }
  });
});

describe('JWT with a public key (RS256) and roles elsewhere in the claims', () => {
  it('roles at a dotted path (Keycloak), checked with the public key', async () => {
    const { url, likes } = await start({ publicKey: rsa.publicKey, rolesClaim: 'realm_access.roles' });
    const token = signJwt({ sub: 'grace', exp: epoch(600), realm_access: { roles: ['writer', 'offline_access'] } }, { privateKey: rsa.privateKey });
    expect((await postGraphQL(url, { query: 'mutation { like }' }, bearer(token))).body).toEqual({ data: { like: 1 } });
    // The same claims signed with the HMAC secret are not this issuer's.
    const forged = signJwt({ sub: 'grace', exp: epoch(600), realm_access: { roles: ['writer'] } }, { secret: jwtSecret });
    expect((await refusal(url, forged)).status).toBe(401);
    expect(likes()).toBe(1);
  });

  it('roles as a space-separated scope string, and a claim named like a URL (Auth0)', async () => {
    const { url } = await start({ secret: jwtSecret, rolesClaim: 'https://annals.dev/roles' });
    const token = signJwt({ sub: 'svc', exp: epoch(600), 'https://annals.dev/roles': 'reader writer' });
    expect((await postGraphQL(url, { query: 'mutation { like }' }, bearer(token))).body).toEqual({ data: { like: 1 } });
  });
});

describe('JWT options', () => {
  it('are checked, naming the field', async () => {
    const attempt = (jwt: unknown) => startService({ store, schema: counterSchema, resolvers: counterResolvers().resolvers, security: { jwt: jwt as JwtOptions } });
    await expect(attempt({ secret: 'short' })).rejects.toMatchObject({ field: 'options.security.jwt.secret', reason: expect.stringContaining('at least 32 characters') });
    await expect(attempt({ secret: jwtSecret, publicKey: rsa.publicKey })).rejects.toMatchObject({ field: 'options.security.jwt', reason: 'needs exactly one of secret (HMAC) and publicKey (PEM)' });
    await expect(attempt({ publicKey: 'ssh-rsa AAAA' })).rejects.toMatchObject({ field: 'options.security.jwt.publicKey' });
    await expect(attempt({ secret: jwtSecret, algorithms: ['HS999'] })).rejects.toBeInstanceOf(ValidationError);
  });
});
