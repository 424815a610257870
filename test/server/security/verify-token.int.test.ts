import { describe, expect, it } from 'vitest';
import { AccessRefusedError, type Principal } from '../../../src/server/principal.js';
import { createAuthenticate } from '../../../src/server/security/authenticate.js';
import type { VerifyToken } from '../../../src/server/security/security-options.js';
import { createTestStore } from '../../setup/database.js';
import { postGraphQL, startService } from '../support/http.js';
import { apiKeys, bearer, counterResolvers, counterSchema, epoch, jwtSecret, signJwt, writerKey } from './support/security-fixtures.js';

// The application's own tokens (verifyToken), and the Authenticate function createService
// hands the websockets: the same decisions as over HTTP.
const store = await createTestStore('security_verify_token');

/** An identity provider's opaque tokens, as an application would look them up. */
const sessions = new Map<string, Principal>([['opaque-session-token-0001', { subject: 'sso:ada', roles: ['writer'], via: 'custom' }]]);
const verifyToken: VerifyToken = async (token) => sessions.get(token);

describe('verifyToken', () => {
  it('proves principals of tokens neither an API key nor a JWT, and refuses what it does not know', async () => {
    const { url } = await startService({ store, schema: counterSchema, resolvers: counterResolvers().resolvers, security: { apiKeys, verifyToken } });
    expect((await postGraphQL(url, { query: 'mutation { like }' }, bearer('opaque-session-token-0001'))).body).toEqual({ data: { like: 1 } });
    expect((await postGraphQL(url, { query: '{ whoami }' }, bearer('opaque-session-token-0001'))).body).toEqual({ data: { whoami: 'sso:ada' } });
    expect((await postGraphQL(url, { query: 'mutation { like }' }, bearer(writerKey.key))).status).toBe(200);
    const unknown = await postGraphQL(url, { query: '{ likes }' }, bearer('opaque-session-token-0002'));
    expect(unknown.status).toBe(401);
  });

  it('gets the JWTs this service cannot verify (another issuer’s), after the JWT check', async () => {
    const foreign = signJwt({ sub: 'partner', exp: epoch(600) }, { secret: 'the-partner-issuer-secret-of-32-characters' });
    const { url } = await startService({
      store,
      schema: counterSchema,
      resolvers: counterResolvers().resolvers,
      security: { jwt: { secret: jwtSecret }, verifyToken: async (token) => (token === foreign ? { subject: 'partner', roles: ['writer'], via: 'custom' } : undefined) },
    });
    expect((await postGraphQL(url, { query: '{ whoami }' }, bearer(foreign))).body).toEqual({ data: { whoami: 'partner' } });
    expect((await postGraphQL(url, { query: '{ whoami }' }, bearer(signJwt({ sub: 'own', exp: epoch(600) })))).body).toEqual({ data: { whoami: 'own' } });
    const expired = await postGraphQL(url, { query: '{ whoami }' }, bearer(signJwt({ sub: 'own', exp: epoch(-600) })));
    expect(expired.body.errors?.[0]?.message).toBe('the bearer token has expired: get a new one');
  });

  it('is a way to authenticate: a production service with it alone starts closed', async () => {
    const { url } = await startService({ store, schema: counterSchema, resolvers: counterResolvers().resolvers, environment: 'production', security: { verifyToken } });
    expect((await postGraphQL(url, { query: 'mutation { like }' })).status).toBe(401);
  });

  it('a malformed principal from it is the application’s bug: 500 naming the option, not the caller’s 401', async () => {
    const { url } = await startService({
      store,
      schema: counterSchema,
      resolvers: counterResolvers().resolvers,
      security: { verifyToken: async () => ({ subject: '', roles: ['writer'], via: 'custom' }) },
    });
    const { status, body } = await postGraphQL(url, { query: '{ likes }' }, bearer('opaque-session-token-0001'));
    expect(status).toBe(500);
    expect(body.errors?.[0]).toMatchObject({
      message: expect.stringContaining('options.security.verifyToken returned no principal { subject, roles, via }: subject'),
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
  });
});

describe('the Authenticate function (what websockets use)', () => {
  const authenticate = createAuthenticate({ apiKeys, jwt: undefined, verifyToken: undefined });

  it('no header or another scheme: no principal; a key: its principal', async () => {
    expect(await authenticate(undefined)).toBeUndefined();
    expect(await authenticate('Basic dXNlcjpwYXNz')).toBeUndefined();
    expect(await authenticate(`Bearer ${writerKey.key}`)).toEqual({ subject: 'ci-writer', roles: ['writer'], via: 'api-key' });
    expect(await authenticate(`  bearer   ${writerKey.key}  `)).toEqual({ subject: 'ci-writer', roles: ['writer'], via: 'api-key' });
  });

  it('a bad token: AccessRefusedError, UNAUTHENTICATED, 401', async () => {
    const refusal = authenticate('Bearer bm90LWEta2V5LW9mLXRoaXMtc2VydmljZQ');
    await expect(refusal).rejects.toBeInstanceOf(AccessRefusedError);
    await expect(refusal).rejects.toMatchObject({ code: 'UNAUTHENTICATED', statusCode: 401 });
  });
});
