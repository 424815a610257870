/**
 * readModel(...).prepare runs its reads as named prepared statements on Postgres: planned
 * once per connection. A prepared statement is planned for the result columns its
 * relations had; a rebuild switch can give the read model other columns (a new
 * projection version), and Postgres then refuses the statement ("cached plan must not
 * change result type"). Readers must not see that: every read answers, before, during
 * and after the switch, in the read model's shape of the moment.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { catchUpProjections, createEventStore, defineProjection, startRebuild } from '../../src/index.js';
import { readModel } from '../../src/graphql/read-model.js';
import { likeEvents } from '../../domain/likes/likes.events.js';
import { testDatabaseUrl, useTestSchema } from '../setup/database.js';

const connections = 4;
const { schema } = useTestSchema('prepared_switch');
const store = createEventStore({ connectionString: testDatabaseUrl, maxConnections: connections }, { schema });
afterAll(() => store.close());
await store.migrate();

/** Version 1 counts in an `integer`; version 2 in a `bigint`, with a column more. */
function counter(name: string, version: 1 | 2) {
  return defineProjection({
    name,
    version,
    events: { LikeCreated: likeEvents.LikeCreated },
    categories: [name],
    schema: async (db) => {
      let table = db.schema.createTable('counts').addColumn('post_id', 'text', (c) => c.primaryKey());
      table = version === 1 ? table.addColumn('n', 'integer', (c) => c.notNull()) : table.addColumn('n', 'bigint', (c) => c.notNull()).addColumn('counted_by', 'text', (c) => c.notNull().defaultTo('v2'));
      await table.execute();
    },
    apply: async (event, context) => {
      await context.query(`INSERT INTO counts (post_id, n) VALUES ($1, 1) ON CONFLICT (post_id) DO UPDATE SET n = counts.n + 1`, [event.data.postId]);
    },
  });
}

interface Tables {
  counts: { post_id: string; n: number | string; counted_by?: string };
}

async function like(name: string, postId: string, times: number): Promise<void> {
  for (let n = 0; n < times; n++) {
    await store.appendToStream(`${name}-${postId}`, [{ type: 'LikeCreated', schemaVersion: 2, data: { postId, userId: randomUUID() } }]);
  }
}

describe('prepared reads', () => {
  it('run as named statements on Postgres', async () => {
    const name = `named_${randomUUID().slice(0, 6)}`;
    const v1 = counter(name, 1);
    await like(name, 'a', 2);
    await catchUpProjections(store, [v1]);
    const countsOf = readModel<Tables>(v1).prepare((db, ids: readonly string[]) => db.selectFrom('counts').selectAll().where('post_id', '=', sql<string>`any(${ids}::text[])`));
    // Enough at once that every connection of the pool runs it.
    const answers = await Promise.all(Array.from({ length: connections * 4 }, () => countsOf({ store }, ['a'])));
    expect(answers.every((rows) => rows.length === 1 && rows[0]!.n === 2)).toBe(true);
    const statements = await Promise.all(
      Array.from({ length: connections * 4 }, () =>
        store.read(async (db) => (await sql<{ statement: string }>`SELECT statement FROM pg_prepared_statements`.execute(db)).rows),
      ),
    );
    expect(statements.some((rows) => rows.some((row) => row.statement.includes('"counts"')))).toBe(true);
  });

  it('answer every read across a switch that changes the read model\'s columns', async () => {
    const name = `switch_${randomUUID().slice(0, 6)}`;
    const v1 = counter(name, 1);
    await like(name, 'a', 3);
    await like(name, 'b', 1);
    await catchUpProjections(store, [v1]);
    const countsOf = readModel<Tables>(v1).prepare((db, ids: readonly string[]) =>
      db.selectFrom('counts').selectAll().where('post_id', '=', sql<string>`any(${ids}::text[])`).orderBy('post_id'),
    );

    // Readers on every connection of the pool, reading without a pause until told to stop.
    let reading = true;
    const failures: unknown[] = [];
    const shapes = new Set<string>();
    const reader = async () => {
      while (reading) {
        try {
          const rows = await countsOf({ store }, ['a', 'b']);
          shapes.add(JSON.stringify(rows));
        } catch (error) {
          failures.push(error);
        }
      }
    };
    const readers = Array.from({ length: connections * 2 }, reader);
    await new Promise((resolve) => setTimeout(resolve, 100));

    const v2 = counter(name, 2);
    await startRebuild(store, v2);
    await catchUpProjections(store, [v2]);
    // Reads go on a while after the switch, on connections that planned the old shape.
    await new Promise((resolve) => setTimeout(resolve, 300));
    reading = false;
    await Promise.all(readers);

    expect(failures).toEqual([]);
    const before = JSON.stringify([{ post_id: 'a', n: 3 }, { post_id: 'b', n: 1 }]);
    // pg answers a bigint as a string.
    const after = JSON.stringify([{ post_id: 'a', n: '3', counted_by: 'v2' }, { post_id: 'b', n: '1', counted_by: 'v2' }]);
    expect([...shapes].sort()).toEqual([after, before].sort());
    // Every connection answers in the new shape from now on.
    const answers = await Promise.all(Array.from({ length: connections * 4 }, () => countsOf({ store }, ['a', 'b'])));
    expect(answers.map((rows) => JSON.stringify(rows))).toEqual(Array.from({ length: connections * 4 }, () => after));
  });

  it('answer on a connection whose statements were deallocated behind pg\'s back', async () => {
    const name = `dealloc_${randomUUID().slice(0, 6)}`;
    const v1 = counter(name, 1);
    await like(name, 'a', 2);
    await catchUpProjections(store, [v1]);
    // A pool of the caller's, of one connection: what the store runs, and what the caller does on it.
    const pool = new pg.Pool({ connectionString: testDatabaseUrl, max: 1 });
    const own = createEventStore(pool, { schema });
    try {
      const countsOf = readModel<Tables>(v1).prepare((db, ids: readonly string[]) => db.selectFrom('counts').selectAll().where('post_id', '=', sql<string>`any(${ids}::text[])`));
      expect(await countsOf({ store: own }, ['a'])).toEqual([{ post_id: 'a', n: 2 }]);
      const client = await pool.connect();
      await client.query('DEALLOCATE ALL');
      client.release();
      expect(await countsOf({ store: own }, ['a'])).toEqual([{ post_id: 'a', n: 2 }]);
      expect(await countsOf({ store: own }, ['a'])).toEqual([{ post_id: 'a', n: 2 }]);
    } finally {
      await own.close();
      await pool.end();
    }
  });
});
