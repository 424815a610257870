import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createTestStore } from '../../setup/database.js';
import { postGraphQL, startService, type GraphQLAnswer } from '../support/http.js';
import { adminKey, apiKeys, bearer, counterResolvers, counterSchema, readerKey, writerKey } from './support/security-fixtures.js';

// Bearer API keys over real HTTP: who may mutate, who may read the admin field, and what a
// refused caller reads (status, code, WWW-Authenticate), never a resolver having run.
const store = await createTestStore('security_api_keys');

async function start(security: Parameters<typeof startService>[0]['security'] = { apiKeys }) {
  const counter = counterResolvers();
  const service = await startService({ store, schema: counterSchema, resolvers: counter.resolvers, security });
  return { url: service.url, likes: counter.likes };
}

describe('mutations need a writer', () => {
  it('without a token: 401 UNAUTHENTICATED with a Bearer challenge, and the mutation never ran', async () => {
    const { url, likes } = await start();
    const { status, headers, body } = await postGraphQL(url, { query: 'mutation { like }' });
    expect(status).toBe(401);
    expect(headers.get('www-authenticate')).toBe('Bearer realm="annals"');
    expect(body).toEqual({
      errors: [{ message: 'a mutation needs a bearer token with the writer role; send Authorization: Bearer <token>', extensions: { code: 'UNAUTHENTICATED' } }],
    });
    expect(likes()).toBe(0);
  });

  it('the same mutation sent again is refused again (mercurius caches parsed documents)', async () => {
    const { url, likes } = await start();
    for (let attempt = 0; attempt < 3; attempt++) {
      expect((await postGraphQL(url, { query: 'mutation { like }' })).status).toBe(401);
    }
    expect((await postGraphQL(url, { query: 'mutation { like }' }, bearer(writerKey.key))).body).toEqual({ data: { like: 1 } });
    expect((await postGraphQL(url, { query: 'mutation { like }' })).status).toBe(401);
    expect(likes()).toBe(1);
  });

  it('with a writer key: the mutation runs, and resolvers see the principal', async () => {
    const { url } = await start();
    expect((await postGraphQL(url, { query: 'mutation { like }' }, bearer(writerKey.key))).body).toEqual({ data: { like: 1 } });
    expect((await postGraphQL(url, { query: '{ whoami }' }, bearer(writerKey.key))).body).toEqual({ data: { whoami: 'ci-writer' } });
  });

  it('an admin key may mutate too (admin holds every right of writer)', async () => {
    const { url } = await start();
    expect((await postGraphQL(url, { query: 'mutation { like }' }, bearer(adminKey.key))).body).toEqual({ data: { like: 1 } });
  });

  it('a key without the writer role: 403 FORBIDDEN naming the key and its roles', async () => {
    const { url, likes } = await start();
    const { status, body } = await postGraphQL(url, { query: 'mutation { like }' }, bearer(readerKey.key));
    expect(status).toBe(403);
    expect(body).toEqual({
      errors: [{ message: "a mutation needs a bearer token with the writer role; 'dashboard' has only 'reader'", extensions: { code: 'FORBIDDEN' } }],
    });
    expect(likes()).toBe(0);
  });

  it('a document with a query and a mutation: the operation named is the one checked (GraphiQL sends the whole editor)', async () => {
    const { url, likes } = await start();
    const query = 'query Read { likes } mutation Write { like }';
    expect((await postGraphQL(url, { query, operationName: 'Read' })).body).toEqual({ data: { likes: 0 } });
    expect((await postGraphQL(url, { query, operationName: 'Write' })).status).toBe(401);
    expect(likes()).toBe(0);
  });

  it('a mutation inside a batch is refused on its own, the batch’s queries answered', async () => {
    const counter = counterResolvers();
    const { url } = await startService({ store, schema: counterSchema, resolvers: counter.resolvers, security: { apiKeys }, limits: { maxBatchedQueries: 3 } });
    const { status, body } = await postGraphQL<GraphQLAnswer[]>(url, [{ query: '{ likes }' }, { query: 'mutation { like }' }, { query: 'mutation { like }' }]);
    expect(status).toBe(200);
    expect(body[0]).toEqual({ data: { likes: 0 } });
    expect(body[1]?.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
    expect(body[2]?.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
    expect(counter.likes()).toBe(0);
    const allowed = await postGraphQL<GraphQLAnswer[]>(url, [{ query: 'mutation { like }' }, { query: 'mutation { like }' }], bearer(writerKey.key));
    expect(allowed.body.map((answer) => answer.data)).toEqual(expect.arrayContaining([{ like: 1 }, { like: 2 }]));
  });

  it('a mutation over GET is still refused (by method) and never runs', async () => {
    const { url, likes } = await start();
    const response = await fetch(`${url}/graphql?query=${encodeURIComponent('mutation { like }')}`, { headers: bearer(writerKey.key) });
    expect(response.status).toBe(405);
    expect(likes()).toBe(0);
  });
});

describe('tokens the service does not accept', () => {
  it('an unknown key: 401 invalid_token, on a query too (a client that sends a token means to be someone)', async () => {
    const { url } = await start();
    const { status, headers, body } = await postGraphQL(url, { query: '{ likes }' }, bearer('bm90LWEta2V5LW9mLXRoaXMtc2VydmljZQ'));
    expect(status).toBe(401);
    expect(headers.get('www-authenticate')).toBe('Bearer realm="annals", error="invalid_token"');
    expect(body).toEqual({ errors: [{ message: 'the bearer token is not accepted: it is no API key of this service', extensions: { code: 'UNAUTHENTICATED' } }] });
  });

  it('a key differing in its last character, a prefix of a key, an empty Bearer: all 401', async () => {
    const { url } = await start();
    for (const token of [`${writerKey.key.slice(0, -1)}X`, writerKey.key.slice(0, 20), `${writerKey.key}A`]) {
      expect((await postGraphQL(url, { query: 'mutation { like }' }, bearer(token))).status).toBe(401);
    }
    const empty = await postGraphQL(url, { query: '{ likes }' }, { authorization: 'Bearer ' });
    expect(empty.status).toBe(401);
    expect(empty.body.errors?.[0]?.message).toBe("the Authorization header has no token after 'Bearer'");
  });

  it('another scheme (a proxy’s Basic auth) is not a token: reads pass, mutations need one', async () => {
    const { url } = await start();
    const basic = { authorization: `Basic ${Buffer.from('user:pass').toString('base64')}` };
    expect((await postGraphQL(url, { query: '{ likes }' }, basic)).body).toEqual({ data: { likes: 0 } });
    expect((await postGraphQL(url, { query: 'mutation { like }' }, basic)).status).toBe(401);
  });

  it('the scheme is case-insensitive (RFC 7235)', async () => {
    const { url } = await start();
    expect((await postGraphQL(url, { query: 'mutation { like }' }, { authorization: `bearer ${writerKey.key}` })).status).toBe(200);
  });

  it('a token sent to a service without keys or JWT: 401 saying it accepts none', async () => {
    const { url } = await start({});
    const { status, body } = await postGraphQL(url, { query: '{ likes }' }, bearer(writerKey.key));
    expect(status).toBe(401);
    expect(body.errors?.[0]?.message).toBe('this service has no API keys or JWT configured, so it accepts no bearer token: send none');
  });

  it('no log line holds a key, good or bad', async () => {
    const lines: string[] = [];
    const logger = pino(
      { level: 'trace' },
      new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const counter = counterResolvers();
    const { url } = await startService({ store, schema: counterSchema, resolvers: counter.resolvers, security: { apiKeys }, logger });
    const wrong = 'd3Jvbmcta2V5LXRoYXQtaXMtbG9uZy1lbm91Z2g';
    await postGraphQL(url, { query: 'mutation { like }' }, bearer(writerKey.key));
    await postGraphQL(url, { query: '{ likes }' }, bearer(wrong));
    await postGraphQL(url, { query: 'mutation { like }' }, bearer(readerKey.key));
    const log = lines.join('');
    expect(log).toContain('"principal":"ci-writer"');
    expect(log).toContain('UNAUTHENTICATED');
    for (const secret of [writerKey.key, readerKey.key, wrong]) expect(log).not.toContain(secret);
  });
});

describe('reads', () => {
  it('are public by default', async () => {
    const { url } = await start();
    expect((await postGraphQL(url, { query: '{ likes whoami }' })).body).toEqual({ data: { likes: 0, whoami: null } });
  });

  it('with requireTokenForReads: a query without a token is 401, with any valid key it runs', async () => {
    const { url } = await start({ apiKeys, requireTokenForReads: true });
    const refused = await postGraphQL(url, { query: '{ likes }' });
    expect(refused.status).toBe(401);
    expect(refused.body.errors?.[0]?.message).toBe('this service answers queries only with a bearer token; send Authorization: Bearer <token>');
    expect((await postGraphQL(url, { query: '{ likes }' }, bearer(readerKey.key))).body).toEqual({ data: { likes: 0 } });
    const get = await fetch(`${url}/graphql?query=${encodeURIComponent('{ likes }')}`);
    expect(get.status).toBe(401);
  });

  it('an admin field: FORBIDDEN at its path for a writer, UNAUTHENTICATED without a token, the list for an admin', async () => {
    const { url } = await start();
    const asWriter = await postGraphQL(url, { query: '{ likes auditLog }' }, bearer(writerKey.key));
    expect(asWriter.status).toBe(200);
    expect(asWriter.body).toEqual({
      data: null,
      errors: [expect.objectContaining({ path: ['auditLog'], message: "'ci-writer' lacks the 'admin' role this operation needs", extensions: { code: 'FORBIDDEN' } })],
    });
    const anonymous = await postGraphQL(url, { query: '{ auditLog }' });
    expect(anonymous.body.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
    expect((await postGraphQL(url, { query: '{ auditLog }' }, bearer(adminKey.key))).body).toEqual({ data: { auditLog: ['rebuilt like-counts'] } });
  });
});

describe('under concurrency', () => {
  it('a burst of authenticated and anonymous mutations: every authenticated one runs once, every anonymous one is refused', async () => {
    const { url, likes } = await start({ apiKeys, rateLimit: false });
    const burst = Array.from({ length: 60 }, (_, index) =>
      index % 2 === 0
        ? postGraphQL(url, { query: 'mutation { like }' }, bearer(index % 4 === 0 ? writerKey.key : adminKey.key))
        : postGraphQL(url, { query: 'mutation { like }' }, index % 3 === 0 ? bearer(readerKey.key) : {}),
    );
    const answers = await Promise.all(burst);
    const authenticated = answers.filter((_, index) => index % 2 === 0);
    const refused = answers.filter((_, index) => index % 2 === 1);
    expect(authenticated.every((answer) => answer.status === 200 && answer.body.errors === undefined)).toBe(true);
    const counts = authenticated.map((answer) => (answer.body.data as { like: number }).like).sort((a, b) => a - b);
    expect(counts).toEqual(Array.from({ length: 30 }, (_, index) => index + 1));
    expect(refused.map((answer) => answer.status).sort()).toEqual([...Array(10).fill(401), ...Array(10).fill(401), ...Array(10).fill(403)].sort());
    expect(likes()).toBe(30);
  });
});
