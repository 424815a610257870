import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { createEventStore, type EventStore } from '../../../src/index.js';
import { embeddedMigrations } from '../../../src/database/embedded-migrations.js';
import { createTestStore, eventually, testDatabaseUrl } from '../../setup/database.js';
import { postGraphQL, startService } from '../support/http.js';
import { adminKey, apiKeys, bearer, counterResolvers, counterSchema, writerKey } from './support/security-fixtures.js';

// The counts in the database, shared by every API process of a store: two services on the
// same schema, each with its own pool as two processes would have, count one budget.
const store = await createTestStore('security_rate_limits_shared');
const otherProcess = createEventStore({ connectionString: testDatabaseUrl, maxConnections: 5 }, { schema: store.schema });
afterAll(() => otherProcess.close());
// A store of its own, whose table a test drops.
const failing = await createTestStore('security_rate_limits_failure');

type SecurityOptions = NonNullable<Parameters<typeof startService>[0]['security']>;

async function start(on: EventStore, security: SecurityOptions, logger?: pino.Logger) {
  const counter = counterResolvers();
  const service = await startService({ store: on, schema: counterSchema, resolvers: counter.resolvers, security: { apiKeys, ...security }, ...(logger ? { logger } : {}) });
  return { url: service.url, likes: counter.likes };
}

const like = (url: string, key = writerKey.key) => postGraphQL(url, { query: 'mutation { like }' }, bearer(key));

const windows = (on: EventStore) =>
  on.read((db) => db.withSchema(on.schema).selectFrom('rate_limit_windows').select(['key', 'count']).orderBy('key').execute());

/** A logger whose lines the test reads. */
function capturedLog(): { logger: pino.Logger; lines: () => { level: number; msg: string }[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _encoding, done) => done(void lines.push(String(chunk))) }));
  return { logger, lines: () => lines.map((line) => JSON.parse(line) as { level: number; msg: string }) };
}

describe('rate limits shared by every API process', () => {
  beforeEach(async () => {
    await store.read((db) => db.withSchema(store.schema).deleteFrom('rate_limit_windows').execute());
  });

  it('two processes count one budget: max 3 spread over both, the fourth refused on either', async () => {
    const rateLimit = { mutations: { max: 3, windowMs: 60_000 } }; // the default store: Postgres, so the database
    const first = await start(store, { rateLimit });
    const second = await start(otherProcess, { rateLimit });
    expect((await like(first.url)).status).toBe(200);
    expect((await like(second.url)).status).toBe(200);
    expect((await like(first.url)).status).toBe(200);
    for (const url of [second.url, first.url]) {
      const refused = await like(url);
      expect(refused.status).toBe(429);
      expect(refused.body.errors?.[0]?.extensions.code).toBe('RATE_LIMITED');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    expect(first.likes() + second.likes()).toBe(3);
    expect(await windows(store)).toEqual([{ key: `mutations:api-key:${writerKey.name}`, count: expect.anything() }]);
  });

  it('callers are counted apart, and mutations apart from queries', async () => {
    const rateLimit = { mutations: { max: 1, windowMs: 60_000 }, queries: { max: 1, windowMs: 60_000 } };
    const first = await start(store, { rateLimit });
    const second = await start(otherProcess, { rateLimit });
    expect((await like(first.url)).status).toBe(200);
    expect((await like(second.url)).status).toBe(429);
    expect((await like(second.url, adminKey.key)).status).toBe(200);
    expect((await like(first.url, adminKey.key)).status).toBe(429);
    expect((await postGraphQL(first.url, { query: '{ likes }' }, bearer(writerKey.key))).status).toBe(200);
    expect((await postGraphQL(second.url, { query: '{ likes }' }, bearer(writerKey.key))).status).toBe(429);
  });

  it('the window ends for both processes: allowed again after it', async () => {
    const rateLimit = { mutations: { max: 2, windowMs: 500 }, store: 'database' as const };
    const first = await start(store, { rateLimit });
    const second = await start(otherProcess, { rateLimit });
    expect((await like(first.url)).status).toBe(200);
    expect((await like(second.url)).status).toBe(200);
    expect((await like(first.url)).status).toBe(429);
    // Each refused attempt counts too; once the window ends, the next starts a new one.
    await eventually(async () => expect((await like(second.url)).status).toBe(200));
    expect((await like(first.url)).status).toBe(200);
    expect((await like(second.url)).status).toBe(429);
  });

  it('a concurrent burst over both processes: exactly max pass', async () => {
    const rateLimit = { mutations: { max: 10, windowMs: 60_000 } };
    const first = await start(store, { rateLimit });
    const second = await start(otherProcess, { rateLimit });
    const answers = await Promise.all(Array.from({ length: 30 }, (_, n) => like(n % 2 === 0 ? first.url : second.url)));
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(10);
    expect(first.likes() + second.likes()).toBe(10);
  });

  it('a caller of any length of subject is counted (a long one by its hash)', async () => {
    const subject = `user-${'x'.repeat(5000)}`;
    const verifyToken = async (token: string) => (token === 'a-session-token-of-a-long-subject' ? { subject, roles: ['writer'], via: 'custom' as const } : undefined);
    const rateLimit = { mutations: { max: 1, windowMs: 60_000 } };
    const first = await start(store, { rateLimit, verifyToken });
    const second = await start(otherProcess, { rateLimit, verifyToken });
    expect((await like(first.url, 'a-session-token-of-a-long-subject')).status).toBe(200);
    expect((await like(second.url, 'a-session-token-of-a-long-subject')).status).toBe(429);
    expect((await windows(store)).map((row) => row.key)).toEqual([expect.stringMatching(/^mutations:custom:user-x+#sha256:[0-9a-f]{64}$/)]);
  });

  it('store: memory counts in each process on its own, and writes nothing to the table', async () => {
    const rateLimit = { mutations: { max: 1, windowMs: 60_000 }, store: 'memory' as const };
    const first = await start(store, { rateLimit });
    const second = await start(otherProcess, { rateLimit });
    expect((await like(first.url)).status).toBe(200);
    expect((await like(first.url)).status).toBe(429);
    expect((await like(second.url)).status).toBe(200);
    expect(await windows(store)).toEqual([]);
  });

  it('ended windows are deleted by a later count, live ones kept', async () => {
    await store.read((db) =>
      db
        .withSchema(store.schema)
        .insertInto('rate_limit_windows')
        .values([
          ...Array.from({ length: 5 }, (_, n) => ({ key: `mutations:api-key:gone-${n}`, count: 7, window_ends_at: new Date(Date.now() - 3_600_000) })),
          { key: 'mutations:api-key:live', count: 1, window_ends_at: new Date(Date.now() + 3_600_000) },
        ])
        .execute(),
    );
    const { url } = await start(store, { rateLimit: { mutations: { max: 5, windowMs: 60_000 } } });
    // A new service sweeps on its first count, beside it, off the request's path.
    expect((await like(url)).status).toBe(200);
    await eventually(async () =>
      expect((await windows(store)).map((row) => row.key)).toEqual([`mutations:api-key:${writerKey.name}`, 'mutations:api-key:live']),
    );
  });
});

describe('a counting failure', () => {
  it('lets operations through uncounted, logs once when it starts and once when it ends', async () => {
    const own = failing;
    const { logger, lines } = capturedLog();
    const { url, likes } = await start(own, { rateLimit: { mutations: { max: 2, windowMs: 60_000 } } }, logger);
    expect((await like(url)).status).toBe(200);
    await own.read((db) => db.schema.withSchema(own.schema).dropTable('rate_limit_windows').execute());
    for (let n = 0; n < 4; n++) expect((await like(url)).status).toBe(200);
    expect(likes()).toBe(5);
    const warnings = lines().filter((line) => line.msg.startsWith('rate limits cannot be counted'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.level).toBe(40);

    // The table back (as its migration made it): counted, and limited, again.
    const migration = embeddedMigrations.find(({ file }) => file.endsWith('_rate_limit_windows.sql'));
    await own.withTransaction((tx) => tx.query(`SET LOCAL search_path TO "${own.schema}"; ${migration?.text}`), { appends: false });
    expect((await like(url)).status).toBe(200);
    expect((await like(url)).status).toBe(200);
    expect((await like(url)).status).toBe(429);
    expect(lines().filter((line) => line.msg === 'rate limits are counted again')).toHaveLength(1);
  });
});

describe('on PGlite', () => {
  it('counts in memory by default (one process holds it), in the table when told to', async () => {
    const embedded = createEventStore({ pglite: 'memory://' });
    onTestFinished(() => embedded.close());
    await embedded.migrate();
    const byDefault = await start(embedded, { rateLimit: { mutations: { max: 1, windowMs: 60_000 } } });
    expect((await like(byDefault.url)).status).toBe(200);
    expect((await like(byDefault.url)).status).toBe(429);
    expect(await windows(embedded)).toEqual([]);

    const told = await start(embedded, { rateLimit: { mutations: { max: 1, windowMs: 60_000 }, store: 'database' } });
    expect((await like(told.url)).status).toBe(200);
    expect((await like(told.url)).status).toBe(429);
    expect((await windows(embedded)).map((row) => row.key)).toEqual([`mutations:api-key:${writerKey.name}`]);
  });
});
