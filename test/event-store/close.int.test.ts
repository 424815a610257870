import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createEventStore, StoreClosedError, type EventStore } from '../../src/index.js';
import { eventually, testDatabaseUrl, useTestSchema } from '../setup/database.js';

// Issue 11, item 5: close() left the LISTEN connections of subscribeToAppends open. 20
// create/subscribe/close cycles left 20 of them, their callbacks kept firing for closed
// stores, and the process never exited (see close-exit.int.test.ts for that part).

const { schema } = useTestSchema('close');
const admin = new pg.Client({ connectionString: testDatabaseUrl });
await admin.connect();
afterAll(() => admin.end());
// Appends from another store, as another process would: its notifications reach every listener.
const writer = createEventStore({ connectionString: testDatabaseUrl }, { schema });
afterAll(() => writer.close());
await writer.migrate();

/**
 * A connection string whose every connection carries an application_name of its own:
 * other test files run in parallel, so this is how this store's backends are told apart.
 */
function tagged(): { url: string; applicationName: string } {
  const applicationName = `annals_close_${randomBytes(4).toString('hex')}`;
  const url = new URL(testDatabaseUrl);
  url.searchParams.set('application_name', applicationName);
  return { url: url.toString(), applicationName };
}

async function backendsOf(applicationName: string): Promise<{ pid: number; query: string }[]> {
  const { rows } = await admin.query<{ pid: number; query: string }>(
    'SELECT pid, query FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
    [applicationName],
  );
  return rows;
}

/** Resolves once `subscription`'s store is heard of an append made through `writer`. */
async function appendAndHear(heard: () => number): Promise<void> {
  const before = heard();
  await eventually(async () => {
    await writer.appendToStream(`post-${randomUUID()}`, [{ type: 'LikeCreated', data: {} }]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(heard()).toBeGreaterThan(before);
  }, 5_000);
}

describe('close() on Postgres', () => {
  it('ends the pool and every LISTEN connection the store opened', async () => {
    const { url, applicationName } = tagged();
    const store = createEventStore({ connectionString: url }, { schema });
    await store.readAll({ limit: 1 });
    for (let i = 0; i < 3; i++) await store.subscribeToAppends(() => {});
    const open = await backendsOf(applicationName);
    expect(open.filter((backend) => backend.query.startsWith('LISTEN'))).toHaveLength(3);

    await store.close();

    await eventually(async () => expect(await backendsOf(applicationName)).toEqual([]), 3_000);
  });

  it('leaves nothing behind after 20 create / subscribe / close cycles', async () => {
    const { url, applicationName } = tagged();
    let calls = 0;
    for (let cycle = 0; cycle < 20; cycle++) {
      const store = createEventStore({ connectionString: url }, { schema });
      await store.subscribeToAppends(() => calls++);
      await store.close();
    }
    await eventually(async () => expect(await backendsOf(applicationName)).toEqual([]), 3_000);

    // The writer's own subscription proves the notifications were sent.
    let writerHeard = 0;
    const own = await writer.subscribeToAppends(() => writerHeard++);
    await appendAndHear(() => writerHeard);
    await own.close();
    expect(calls).toBe(0);
  });

  it('calls no callback of the store once close() is called, not even onLost', async () => {
    const { url } = tagged();
    const store = createEventStore({ connectionString: url }, { schema });
    let heard = 0;
    let lost = 0;
    await store.subscribeToAppends(
      () => heard++,
      () => lost++,
    );
    await appendAndHear(() => heard);

    // Its own append's notification is in flight while close() runs.
    await store.appendToStream(`post-${randomUUID()}`, [{ type: 'LikeCreated', data: {} }]);
    const atClose = heard;
    await store.close();

    let writerHeard = 0;
    const own = await writer.subscribeToAppends(() => writerHeard++);
    await appendAndHear(() => writerHeard);
    await own.close();
    expect(heard).toBe(atClose);
    expect(lost).toBe(0);
  });

  it('ends a subscription that was still connecting when close() was called', async () => {
    const { url, applicationName } = tagged();
    const store = createEventStore({ connectionString: url }, { schema });
    const subscribing = store.subscribeToAppends(() => {});
    await store.close();
    await expect(subscribing).rejects.toBeInstanceOf(StoreClosedError);
    await eventually(async () => expect(await backendsOf(applicationName)).toEqual([]), 3_000);
  });

  it('refuses to subscribe after close(); closing a subscription after its store is a no-op', async () => {
    const store = createEventStore({ connectionString: testDatabaseUrl }, { schema });
    const subscription = await store.subscribeToAppends(() => {});
    await store.close();
    await store.close();
    await subscription.close();
    await expect(store.subscribeToAppends(() => {})).rejects.toBeInstanceOf(StoreClosedError);
  });

  it('with a pool of yours, ends its own LISTEN connections and leaves your pool open', async () => {
    const { url, applicationName } = tagged();
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    const store = createEventStore(pool, { schema });
    await store.readAll({ limit: 1 });
    await store.subscribeToAppends(() => {});
    await store.close();
    await eventually(async () => {
      const left = await backendsOf(applicationName);
      expect(left.filter((backend) => backend.query.startsWith('LISTEN'))).toEqual([]);
    }, 3_000);
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await pool.end();
  });
});

describe('close() on PGlite', () => {
  async function openPGlite(): Promise<EventStore> {
    const store = createEventStore({ pglite: 'memory://' });
    await store.migrate();
    return store;
  }

  it('calls no callback of the store once close() is called', async () => {
    const store = await openPGlite();
    let heard = 0;
    let lost = 0;
    await store.subscribeToAppends(
      () => heard++,
      () => lost++,
    );
    await store.appendToStream('post-1', [{ type: 'LikeCreated', data: {} }]);
    await eventually(async () => expect(heard).toBeGreaterThan(0), 3_000);
    // Its own append's notification is in flight while close() runs.
    await store.appendToStream('post-1', [{ type: 'LikeCreated', data: {} }]);
    const atClose = heard;
    await store.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(heard).toBe(atClose);
    expect(lost).toBe(0);
  });

  it('ends a subscription that was still opening when close() was called', async () => {
    const store = createEventStore({ pglite: 'memory://' });
    const subscribing = store.subscribeToAppends(() => {});
    await store.close();
    await expect(subscribing).rejects.toBeInstanceOf(StoreClosedError);
  });
});
