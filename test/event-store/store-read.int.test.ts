import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createEventStore, StoreClosedError } from '../../src/index.js';
import { createTestStore, testDatabaseUrl, useTestSchema } from '../setup/database.js';

// store.read: a kysely handle on the pool, outside any transaction (what readModel uses
// for GraphQL reads, so a read costs one statement, not BEGIN, SELECT and COMMIT).

const store = await createTestStore('store_read');
await store.withTransaction((tx) => tx.query(`CREATE TABLE ${tx.schema}.counts (id text PRIMARY KEY, n int NOT NULL)`), { appends: false });
const counts = () => store.read((db) => db.withSchema(store.schema).selectFrom('counts').select(['id', 'n']).orderBy('id').execute());

describe('store.read', () => {
  it('reads your own tables with kysely, typed by the caller', async () => {
    await store.withTransaction((tx) => tx.query(`INSERT INTO ${tx.schema}.counts VALUES ('a', 1), ('b', 2)`), { appends: false });
    expect(await counts()).toEqual([
      { id: 'a', n: 1 },
      { id: 'b', n: 2 },
    ]);
  });

  it('runs outside any transaction: each statement is a transaction of its own', async () => {
    const ids = await store.read(async (db) => {
      const first = await sql<{ id: string | null }>`SELECT txid_current_if_assigned()::text AS id`.execute(db);
      const inTransaction = await sql<{ open: boolean }>`SELECT now() <> statement_timestamp() AS open`.execute(db);
      return { assigned: first.rows[0]!.id, open: inTransaction.rows[0]!.open };
    });
    // No xid (nothing written) and no transaction started before the statement.
    expect(ids).toEqual({ assigned: null, open: false });
  });

  it('sees what committed between its statements (no snapshot across them)', async () => {
    const seen = await store.read(async (db) => {
      const before = await db.withSchema(store.schema).selectFrom('counts').select('n').where('id', '=', 'c').execute();
      await store.withTransaction((tx) => tx.query(`INSERT INTO ${tx.schema}.counts VALUES ('c', 3)`), { appends: false });
      const after = await db.withSchema(store.schema).selectFrom('counts').select('n').where('id', '=', 'c').execute();
      return [before.length, after.length];
    });
    expect(seen).toEqual([0, 1]);
  });

  it('passes on what the work throws, and refuses once the store is closed', async () => {
    await expect(store.read(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    const { schema } = useTestSchema('store_read_closed');
    const closing = createEventStore({ connectionString: testDatabaseUrl }, { schema });
    await closing.close();
    await expect(closing.read(async () => 1)).rejects.toBeInstanceOf(StoreClosedError);
  });
});
