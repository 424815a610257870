import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventStore, type EventStore } from '../../src/index.js';
import { startPrivateCluster, type PrivateCluster } from '../setup/private-cluster.js';
import { password, unreachable } from './support/unreachable.js';

// A wrong or missing password (28P01, or pg's SCRAM error when none is given) is
// DatabaseUnreachableError too. The shared test server trusts every connection, so this
// file starts a cluster of its own and makes it ask for passwords over TCP.

let cluster: PrivateCluster;
const stores: EventStore[] = [];

beforeAll(async () => {
  cluster = await startPrivateCluster();
  const socket = ['--host', cluster.dir, '--port', String(cluster.port), '--username', 'postgres', '--dbname', 'postgres', '--no-psqlrc'];
  await cluster.run('psql', [...socket, '--command', "SET password_encryption = 'scram-sha-256'; ALTER ROLE postgres PASSWORD 'the-right-one'"]);
  // TCP connections now need the password; the Unix socket this file uses stays trusted.
  const hba = join(cluster.dir, 'data', 'pg_hba.conf');
  const lines = (await readFile(hba, 'utf8')).split('\n').map((line) => (/^host\s/.test(line) ? line.replace(/\btrust\s*$/, 'scram-sha-256') : line));
  await writeFile(hba, lines.join('\n'));
  await cluster.run('psql', [...socket, '--command', 'SELECT pg_reload_conf()']);
}, 180_000);

afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
  await cluster?.stop();
});

function storeWith(credentials: string): EventStore {
  const store = createEventStore({ connectionString: `postgres://${credentials}@127.0.0.1:${cluster.port}/postgres` });
  stores.push(store);
  return store;
}

describe('a store whose password the server refuses', () => {
  it('names the user and says to check the password, never repeating it', async () => {
    const error = await unreachable(storeWith(`postgres:${password}`).readStream('post-1'), 'authentication-failed');
    expect(error).toMatchObject({ host: '127.0.0.1', port: cluster.port, database: 'postgres', user: 'postgres' });
    expect(error.message).toBe(
      `cannot connect to PostgreSQL at 127.0.0.1:${cluster.port} (database "postgres", user "postgres"): ` +
        'password authentication failed for user "postgres"; check the password in the connection string',
    );
    expect(error.cause).toMatchObject({ code: '28P01' });
  });

  it('says so when the connection string gives no password at all', async () => {
    const error = await unreachable(storeWith('postgres').readStream('post-1'), 'authentication-failed');
    expect(error.message).toMatch(/: the server asks for a password and the connection string gives none$/);
  });

  it('connects with the right one', async () => {
    const { applied } = await storeWith('postgres:the-right-one').migrate();
    expect(applied).toContain('0001_event_store');
  });
});
