import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ConnectionTimeoutError, createEventStore, type EventStore } from '../../src/index.js';
import { testDatabaseUrl, useTestSchema } from '../setup/database.js';

// Issue 11, item 7: with fewer connections than withTransaction callers that also use the
// store outside their transaction, every caller held its connection and waited for
// another one: the calls hung for ever. A connection not free within connectionTimeoutMs
// is now an error naming the setting, and the store goes on working once callers let go.

const { schema } = useTestSchema('pool_timeout');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const stores: EventStore[] = [];
afterAll(() => Promise.all(stores.map((store) => store.close())));

/** The deadlock: the callback reads through the store, which needs a second connection. */
async function deadlock(store: EventStore): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  const attempt = store.withTransaction(async () => store.readStream('post-1')).then(
    () => 'no error',
    (error: unknown) => error,
  );
  const error = await Promise.race([attempt, sleep(10_000).then(() => 'still waiting after 10 s')]);
  return { error, ms: Date.now() - started };
}

function expectPoolTimeout(error: unknown, timeoutMs: number): void {
  expect(error).toBeInstanceOf(ConnectionTimeoutError);
  expect(error).toMatchObject({ code: 'ANNALS_CONNECTION_TIMEOUT', timeoutMs });
  expect((error as Error).message).toMatch(new RegExp(`within ${timeoutMs} ms`));
  expect((error as Error).message).toMatch(/use tx/);
}

describe('a store whose connections are all held', () => {
  it('on Postgres: a callback that uses the store instead of tx fails within connectionTimeoutMs', async () => {
    const store = createEventStore({ connectionString: testDatabaseUrl, maxConnections: 1, connectionTimeoutMs: 300 }, { schema });
    stores.push(store);
    await store.migrate();
    const { error, ms } = await deadlock(store);
    expectPoolTimeout(error, 300);
    expect(ms).toBeLessThan(5_000);
    expect(await store.readStream('post-1')).toEqual([]);
  }, 20_000);

  it('on a pool of yours: its connectionTimeoutMillis gives the same error', async () => {
    const pool = new pg.Pool({ connectionString: testDatabaseUrl, max: 1, connectionTimeoutMillis: 300 });
    const store = createEventStore(pool, { schema });
    stores.push(store);
    await store.migrate();
    const { error } = await deadlock(store);
    expectPoolTimeout(error, 300);
    expect(await store.readStream('post-1')).toEqual([]);
    await store.close();
    await pool.end();
  }, 20_000);

  it('on PGlite (one connection): the same pattern fails within connectionTimeoutMs too', async () => {
    const store = createEventStore({ pglite: 'memory://', connectionTimeoutMs: 300 });
    stores.push(store);
    await store.migrate();
    const { error, ms } = await deadlock(store);
    expectPoolTimeout(error, 300);
    expect(ms).toBeLessThan(5_000);
    expect(await store.readStream('post-1')).toEqual([]);
  }, 20_000);

  it('on PGlite: a caller that times out leaves its place in the queue to the next', async () => {
    const store = createEventStore({ pglite: 'memory://', connectionTimeoutMs: 200 });
    stores.push(store);
    await store.migrate();
    let release!: () => void;
    const held = store.withTransaction(() => new Promise<void>((resolve) => (release = resolve)));
    await sleep(50);
    const waiting = store.readStream('post-1').catch((error: unknown) => error);
    expectPoolTimeout(await waiting, 200);
    release();
    await held;
    // The queue is not stuck behind the caller that gave up.
    expect(await store.readStream('post-1')).toEqual([]);
    await store.appendToStream('post-1', [{ type: 'LikeCreated', data: {} }]);
    expect(await store.readStream('post-1')).toHaveLength(1);
  }, 20_000);

  it.each([
    ['a negative timeout', { connectionString: testDatabaseUrl, connectionTimeoutMs: -1 }],
    ['a timeout that is not a number', { connectionString: testDatabaseUrl, connectionTimeoutMs: '30s' }],
    ['a PGlite timeout that is not finite', { pglite: 'memory://', connectionTimeoutMs: Number.POSITIVE_INFINITY }],
  ])('rejects %s when the store is created', (_name, config) => {
    expect(() => createEventStore(config as never, { schema })).toThrow(
      expect.objectContaining({ code: 'ANNALS_VALIDATION', field: 'connection.connectionTimeoutMs' }),
    );
  });
});

describe('other connection settings', () => {
  it.each([
    ['no pool at all', { maxConnections: 0, connectionString: testDatabaseUrl }, 'connection.maxConnections'],
    ['a fractional pool', { maxConnections: 1.5, connectionString: testDatabaseUrl }, 'connection.maxConnections'],
    ['no way to connect', { databaseUrl: testDatabaseUrl }, 'connection'],
  ])('rejects %s with a ValidationError naming the field', (_name, config, field) => {
    expect(() => createEventStore(config as never, { schema })).toThrow(expect.objectContaining({ code: 'ANNALS_VALIDATION', field }));
  });
});
