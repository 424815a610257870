import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ConnectionTimeoutError, createEventStore, runProjections, type EventStore } from '../../src/index.js';
import { tallyProjection } from '../support/tally.js';
import { closedPort, missingName, silentServer, testDatabase, testUser, unreachable, urlWith } from './support/unreachable.js';

// Issue 13: a database the store cannot connect to was pg's own error (`connect
// ECONNREFUSED 127.0.0.1:5433`, `database "app" does not exist`), naming neither the
// database nor the user it tried, or a TypeError deep in a worker. Now it is one typed
// error naming the target, with the driver's error as its cause.

const stores: EventStore[] = [];
afterAll(() => Promise.all(stores.map((store) => store.close())));

function storeOn(connectionString: string, connectionTimeoutMs = 30_000): EventStore {
  const store = createEventStore({ connectionString, connectionTimeoutMs });
  stores.push(store);
  return store;
}

describe('a store that cannot connect', () => {
  it('names the port nothing listens on', async () => {
    const port = await closedPort();
    const store = storeOn(urlWith({ host: '127.0.0.1', port }));
    const error = await unreachable(store.readStream('post-1'), 'refused');
    expect(error).toMatchObject({ host: '127.0.0.1', port, database: testDatabase, user: testUser });
    expect(error.message).toBe(
      `cannot connect to PostgreSQL at 127.0.0.1:${port} (database "${testDatabase}", user "${testUser}"): connection refused; is PostgreSQL running there, and listening on that port?`,
    );
    expect(error.cause).toMatchObject({ code: 'ECONNREFUSED' });
    // Its LISTEN connection, outside the pool, says the same.
    await unreachable(store.subscribeToAppends(() => {}), 'refused');
  });

  it('names a database the server does not have', async () => {
    const database = missingName('db');
    const error = await unreachable(storeOn(urlWith({ database })).appendToStream('post-1', [{ type: 'Liked', data: {} }]), 'database-missing');
    expect(error).toMatchObject({ database, user: testUser });
    expect(error.message).toMatch(new RegExp(`^cannot connect to PostgreSQL at \\S+ \\(database "${database}", user "${testUser}"\\): database "${database}" does not exist; create it`));
    expect(error.cause).toMatchObject({ code: '3D000' });
  });

  it('names a role the server does not have', async () => {
    const user = missingName('role');
    const store = storeOn(urlWith({ user }));
    const error = await unreachable(store.withTransaction(async (tx) => tx.readStream('post-1')), 'role-missing');
    expect(error).toMatchObject({ database: testDatabase, user });
    expect(error.message).toMatch(new RegExp(`: role "${user}" does not exist; create it \\(createuser ${user}\\) or correct the user name$`));
    expect(error.cause).toMatchObject({ code: '28000' });
    await unreachable(store.subscribeToAppends(() => {}), 'role-missing');
  });

  it('names a host that does not resolve', async () => {
    // `.invalid` never resolves (RFC 2606); without DNS at all the lookup fails too (EAI_AGAIN).
    const error = await unreachable(storeOn(urlWith({ host: 'annals-test.invalid' })).headPosition(), 'host-not-found');
    expect(error.host).toBe('annals-test.invalid');
    expect(error.message).toMatch(/^cannot connect to PostgreSQL at annals-test\.invalid:5432 .*: host name annals-test\.invalid (not found|could not be resolved)/);
    expect(['ENOTFOUND', 'EAI_AGAIN']).toContain((error.cause as { code?: string }).code);
  });

  it('names a server that never answers within connectionTimeoutMs, apart from a busy pool (ConnectionTimeoutError)', async () => {
    const server = await silentServer();
    try {
      const store = storeOn(urlWith({ host: '127.0.0.1', port: server.port }), 200);
      const error = await unreachable(store.readAll(), 'timeout');
      expect(error).not.toBeInstanceOf(ConnectionTimeoutError);
      expect(error.message).toMatch(/: no answer within 200 ms \(connectionTimeoutMs\); check the host and port/);
      await unreachable(store.subscribeToAppends(() => {}), 'timeout');
    } finally {
      await server.close();
    }
  });

  it('names the target of a pg.Pool of yours, from its options', async () => {
    const database = missingName('db');
    const pool = new pg.Pool({ connectionString: urlWith({ database }) });
    pool.on('error', () => {});
    const store = createEventStore(pool);
    try {
      const error = await unreachable(store.readStream('post-1'), 'database-missing');
      expect(error).toMatchObject({ database, user: testUser });
      await unreachable(store.subscribeToAppends(() => {}), 'database-missing');
    } finally {
      await store.close();
      await pool.end();
    }
  });

  it('fails a projection worker at start when the database does not exist, rather than retrying for ever', async () => {
    const store = storeOn(urlWith({ database: missingName('db') }));
    const runner = runProjections(store, [tallyProjection()], { logger: { info() {}, warn() {}, error() {} } });
    try {
      await unreachable(runner.ready, 'database-missing');
    } finally {
      await runner.stop();
    }
  });
});
