import { setTimeout as sleep } from 'node:timers/promises';
import { beforeEach, describe, expect, it } from 'vitest';
import { createTestStore } from '../../setup/database.js';
import { postGraphQL, startService, type GraphQLAnswer } from '../support/http.js';
import { adminKey, apiKeys, bearer, counterResolvers, counterSchema, writerKey } from './support/security-fixtures.js';

// Rate limits per caller on mutations, over real HTTP: the refusal (429 RATE_LIMITED with
// retry-after), the window's end, the callers' separate counts; queries not limited. Every
// test runs with the counts in the database and in memory; sharing them between processes
// is rate-limits-shared.int.test.ts.
const store = await createTestStore('security_rate_limits');

type RateLimitOptions = Exclude<NonNullable<NonNullable<Parameters<typeof startService>[0]['security']>['rateLimit']>, false>;

const like = (url: string, key = writerKey.key) => postGraphQL(url, { query: 'mutation { like }' }, bearer(key));

describe.each(['database', 'memory'] as const)('mutation rate limit, counted in %s', (backend) => {
  // The tests' callers are the same keys: each test starts from no counts.
  beforeEach(async () => {
    await store.read((db) => db.withSchema(store.schema).deleteFrom('rate_limit_windows').execute());
  });

  async function start(rateLimit: Omit<RateLimitOptions, 'store'> | false, extra = {}) {
    const counter = counterResolvers();
    const security = { apiKeys, rateLimit: rateLimit === false ? (false as const) : { ...rateLimit, store: backend } };
    const service = await startService({ store, schema: counterSchema, resolvers: counter.resolvers, security, ...extra });
    return { url: service.url, likes: counter.likes };
  }

  it('past max in the window: 429 RATE_LIMITED with retry-after; after the window, allowed again', async () => {
    const { url, likes } = await start({ mutations: { max: 3, windowMs: 1000 } });
    for (let n = 1; n <= 3; n++) {
      const allowed = await like(url);
      expect(allowed.body).toEqual({ data: { like: n } });
      expect(allowed.headers.get('x-ratelimit-remaining')).toBe(String(3 - n));
    }
    const refused = await like(url);
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({
      errors: [{ message: expect.stringMatching(/^more than 3 mutations in 1 s from this caller; retry after 1 s$/), extensions: { code: 'RATE_LIMITED' } }],
    });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(likes()).toBe(3);
    // Waiting what the answer said is enough.
    await sleep(retryAfter * 1000);
    expect((await like(url)).body).toEqual({ data: { like: 4 } });
  });

  it('each principal has its own count', async () => {
    const { url } = await start({ mutations: { max: 2, windowMs: 60_000 } });
    await like(url);
    await like(url);
    expect((await like(url)).status).toBe(429);
    expect((await like(url, adminKey.key)).status).toBe(200);
  });

  it('each operation of a batch counts', async () => {
    const { url, likes } = await start({ mutations: { max: 2, windowMs: 60_000 } }, { limits: { maxBatchedQueries: 3 } });
    const { status, body } = await postGraphQL<GraphQLAnswer[]>(
      url,
      [{ query: 'mutation { like }' }, { query: 'mutation { like }' }, { query: 'mutation { like }' }],
      bearer(writerKey.key),
    );
    expect(status).toBe(200);
    expect(body.filter((answer) => answer.errors?.[0]?.extensions.code === 'RATE_LIMITED')).toHaveLength(1);
    expect(likes()).toBe(2);
  });

  it('a concurrent burst past the limit: exactly max pass, the rest are 429', async () => {
    const { url, likes } = await start({ mutations: { max: 10, windowMs: 60_000 } });
    const answers = await Promise.all(Array.from({ length: 25 }, () => like(url)));
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(10);
    expect(answers.filter((answer) => answer.status === 429)).toHaveLength(15);
    expect(likes()).toBe(10);
  });

  it('anonymous callers are counted by address when mutations are open', async () => {
    const counter = counterResolvers();
    const { url } = await startService({
      store,
      schema: counterSchema,
      resolvers: counter.resolvers,
      security: { openMutations: true, rateLimit: { mutations: { max: 1, windowMs: 60_000 }, store: backend } },
    });
    expect((await postGraphQL(url, { query: 'mutation { like }' })).status).toBe(200);
    expect((await postGraphQL(url, { query: 'mutation { like }' })).status).toBe(429);
  });

  it('queries are not limited by default, and can be', async () => {
    const { url } = await start({ mutations: { max: 1, windowMs: 60_000 } });
    for (let n = 0; n < 20; n++) expect((await postGraphQL(url, { query: '{ likes }' })).status).toBe(200);
    const limited = await start({ queries: { max: 2, windowMs: 60_000 } });
    expect((await postGraphQL(limited.url, { query: '{ likes }' })).status).toBe(200);
    expect((await postGraphQL(limited.url, { query: '{ likes }' })).status).toBe(200);
    const refused = await postGraphQL(limited.url, { query: '{ likes }' });
    expect(refused.status).toBe(429);
    expect(refused.body.errors?.[0]?.message).toMatch(/^more than 2 queries in 1 min/);
  });

  it('rateLimit: false turns the limits off', async () => {
    const { url } = await start(false);
    const answers = await Promise.all(Array.from({ length: 30 }, () => like(url)));
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
  });

  it('a refused caller is not counted: an anonymous mutation does not use up anyone’s limit', async () => {
    const { url } = await start({ mutations: { max: 1, windowMs: 60_000 } });
    for (let n = 0; n < 5; n++) expect((await postGraphQL(url, { query: 'mutation { like }' })).status).toBe(401);
    expect((await like(url)).status).toBe(200);
  });
});
