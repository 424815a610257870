/**
 * Read models of two stores, or of two projections, never share a schema, and Annals
 * drops or replaces only what it created for the projection in question (issue 11, 1).
 */
import { randomBytes } from 'node:crypto';
import {
  catchUpProjections,
  createEventStore,
  defineProjection,
  readSchemaOf,
  SchemaConflictError,
  setupProjection,
  startRebuild,
  ValidationError,
  type EventStore,
} from 'annals';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { testDatabaseUrl } from '../setup/database.js';

const base = `test_rs_${randomBytes(4).toString('hex')}`;
const stores: EventStore[] = [];
const client = new pg.Client({ connectionString: testDatabaseUrl });
await client.connect();

afterAll(async () => {
  for (const store of stores) await store.close();
  const { rows } = await client.query<{ name: string }>(`SELECT nspname AS name FROM pg_namespace WHERE starts_with(nspname, $1)`, [base]);
  for (const { name } of rows) await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
  await client.end();
});

async function openStore(schema: string): Promise<EventStore> {
  const store = createEventStore({ connectionString: testDatabaseUrl, maxConnections: 4 }, { schema });
  stores.push(store);
  await store.migrate();
  return store;
}

const events = { NoteWritten: z.object({ id: z.string(), body: z.string() }) };

/** Keeps the notes of its category, in table `notes` (or `table`), with an extra column from version 2 on. */
function notes(name: string, options: { version?: number; readSchema?: string; table?: string } = {}) {
  const version = options.version ?? 1;
  const table = options.table ?? 'notes';
  return defineProjection({
    name,
    version,
    events,
    categories: ['note'],
    ...(options.readSchema ? { readSchema: options.readSchema } : {}),
    schema: async (db) => {
      let create = db.schema.createTable(table).addColumn('id', 'text', (c) => c.primaryKey()).addColumn('body', 'text', (c) => c.notNull());
      if (version >= 2) create = create.addColumn('version', 'integer', (c) => c.notNull().defaultTo(version));
      await create.execute();
    },
    apply: async (event, { query }) => {
      await query(`INSERT INTO ${table} (id, body) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET body = excluded.body`, [event.data.id, event.data.body]);
    },
  });
}

const write = (store: EventStore, id: string, body: string) => store.appendToStream(`note-${id}`, [{ type: 'NoteWritten', data: { id, body } }]);

async function bodies(schema: string, table = 'notes'): Promise<string[]> {
  const { rows } = await client.query<{ body: string }>(`SELECT body FROM "${schema}"."${table}" ORDER BY id`);
  return rows.map((row) => row.body);
}

const schemaExists = async (name: string) => (await client.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [name])).rowCount === 1;

describe('read schema names', () => {
  it('keep two stores whose names and projection names concatenate alike apart', async () => {
    // The review's case: `<rs>` + `a-b` and `<rs>_a` + `b` were both `<rs>_a_b`.
    const first = await openStore(`${base}_rs`);
    const second = await openStore(`${base}_rs_a`);
    const one = notes('a-b');
    const two = notes('b');
    expect(readSchemaOf(first.schema, one)).not.toBe(readSchemaOf(second.schema, two));

    await write(first, '1', 'store1:tenant1-secret');
    await catchUpProjections(first, [one]);
    await write(second, '1', 'store2:tenant2-data');
    await catchUpProjections(second, [two]);
    await write(first, '2', 'store1:tenant1-more');
    await catchUpProjections(first, [one]);

    expect(await bodies(readSchemaOf(first.schema, one))).toEqual(['store1:tenant1-secret', 'store1:tenant1-more']);
    expect(await bodies(readSchemaOf(second.schema, two))).toEqual(['store2:tenant2-data']);
  });

  it('keep projections a-b and a_b of one store apart', async () => {
    const store = await openStore(`${base}_dash`);
    const dashed = notes('a-b');
    const underscored = notes('a_b');
    await write(store, '1', 'one');
    await catchUpProjections(store, [dashed, underscored]);
    expect(readSchemaOf(store.schema, dashed)).not.toBe(readSchemaOf(store.schema, underscored));
    expect(await bodies(readSchemaOf(store.schema, dashed))).toEqual(['one']);
    expect(await bodies(readSchemaOf(store.schema, underscored))).toEqual(['one']);
  });

  it('are refused, with the field named, when longer than Postgres keeps', () => {
    const long = notes('n'.repeat(40));
    expect(() => readSchemaOf('s'.repeat(20), long)).toThrow(ValidationError);
    try {
      readSchemaOf('é'.repeat(10), long);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).field).toBe('projection.readSchema');
      expect((error as ValidationError).reason).toMatch(/61 bytes, more than the 55/);
    }
    expect(readSchemaOf('s'.repeat(14), long)).toHaveLength(55);
  });

  it.each(['public', 'information_schema', 'pg_catalog', 'pg_mine'])('refuse readSchema %s', (readSchema) => {
    try {
      notes('reserved', { readSchema });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).field).toBe('projection.readSchema');
    }
  });
});

describe('ownership', () => {
  it('refuses a generation schema it did not create, and leaves it as it was', async () => {
    const store = await openStore(`${base}_own`);
    const projection = notes('taken');
    const squatted = `${readSchemaOf(store.schema, projection)}#g1`;
    await client.query(`CREATE SCHEMA "${squatted}"; CREATE TABLE "${squatted}".precious (v text); INSERT INTO "${squatted}".precious VALUES ('keep')`);

    const error = await setupProjection(store, projection).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchemaConflictError);
    expect((error as SchemaConflictError).schema).toBe(squatted);
    expect((error as SchemaConflictError).owner).toBeUndefined();
    expect((await client.query(`SELECT v FROM "${squatted}".precious`)).rows).toEqual([{ v: 'keep' }]);
  });

  it('refuses another projection’s generation schema, naming its owner', async () => {
    const store = await openStore(`${base}_other`);
    const mine = notes('mine', { readSchema: `${base}_shared` });
    await setupProjection(store, mine);
    const other = await openStore(`${base}_other2`);
    const error = await setupProjection(other, notes('theirs', { readSchema: `${base}_shared` })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchemaConflictError);
    expect((error as SchemaConflictError).owner).toContain(`"store":"${store.schema}"`);
    await write(store, '1', 'still mine');
    await catchUpProjections(store, [mine]);
    expect(await bodies(`${base}_shared`)).toEqual(['still mine']);
  });

  it('drops a generation schema of its own left by a store made again from scratch', async () => {
    const schema = `${base}_again`;
    const projection = notes('again');
    const first = await openStore(schema);
    await write(first, '1', 'old life');
    await catchUpProjections(first, [projection]);
    await client.query(`DROP SCHEMA "${schema}" CASCADE`);
    const second = await openStore(schema);
    await write(second, '2', 'new life');
    await catchUpProjections(second, [projection]);
    expect(await bodies(readSchemaOf(schema, projection))).toEqual(['new life']);
  });
});

describe('ownership, found in review', () => {
  it('keeps a view of the user’s named like a table it reads in a generation schema', async () => {
    // An untagged view of a table's name over a generation table was taken for a read
    // view of an earlier release, wherever it was, and dropped with the generation.
    const store = await openStore(`${base}_same`);
    const v1 = notes('same');
    const readSchema = readSchemaOf(store.schema, v1);
    await write(store, '1', 'mine');
    await catchUpProjections(store, [v1]);
    await client.query(`CREATE SCHEMA "${base}_same_user"; CREATE VIEW "${base}_same_user".notes AS SELECT id FROM "${readSchema}#g1".notes`);
    const v2 = notes('same', { version: 2 });
    await startRebuild(store, v2);
    await catchUpProjections(store, [v2]);
    await setupProjection(store, v2);
    expect((await client.query(`SELECT id FROM "${base}_same_user".notes`)).rows).toEqual([{ id: '1' }]);
    expect(await schemaExists(`${readSchema}#g1`)).toBe(true);
  });

  it('refuses to replace a generation of a store made again while a view of the user’s reads it', async () => {
    const schema = `${base}_reborn`;
    const projection = notes('reborn');
    const first = await openStore(schema);
    await write(first, '1', 'old life');
    await catchUpProjections(first, [projection]);
    await client.query(`CREATE SCHEMA "${base}_reborn_user"; CREATE VIEW "${base}_reborn_user".report AS SELECT body FROM "${readSchemaOf(schema, projection)}".notes`);
    await client.query(`DROP SCHEMA "${schema}" CASCADE`);
    const second = await openStore(schema);
    const error = await setupProjection(second, projection).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchemaConflictError);
    expect((error as SchemaConflictError).relation).toBe(`${base}_reborn_user.report`);
    expect((await client.query(`SELECT body FROM "${base}_reborn_user".report`)).rows).toEqual([{ body: 'old life' }]);
  });

  it('gives one of two stores setting up the same readSchema at once a SchemaConflictError, not a raw duplicate key', async () => {
    const readSchema = `${base}_race`;
    const slow = (name: string) => {
      const projection = notes(name, { readSchema });
      const schema = projection.definition.schema;
      const slowSchema = async (db: Parameters<typeof schema>[0]) => {
        await new Promise((resolve) => setTimeout(resolve, 200));
        await schema(db);
      };
      return defineProjection({ ...projection.definition, schema: slowSchema });
    };
    const [a, b] = await Promise.all([openStore(`${base}_race_a`), openStore(`${base}_race_b`)]);
    const outcomes = await Promise.allSettled([setupProjection(a, slow('race')), setupProjection(b, slow('race'))]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const [refused] = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(refused!.reason).toBeInstanceOf(SchemaConflictError);
  });
});

describe('a readSchema of the user’s own', () => {
  it('keeps the user’s views there through setup and a rebuild, and refuses to replace one', async () => {
    const store = await openStore(`${base}_user`);
    const readSchema = `${base}_reports`;
    await client.query(`CREATE SCHEMA "${readSchema}"; CREATE VIEW "${readSchema}".order_report AS SELECT 42 AS answer`);
    await write(store, '1', 'first');
    await catchUpProjections(store, [notes('user-notes', { readSchema })]);
    await startRebuild(store, notes('user-notes', { readSchema, version: 2 }));
    await catchUpProjections(store, [notes('user-notes', { readSchema, version: 2 })]);
    expect((await client.query(`SELECT answer FROM "${readSchema}".order_report`)).rows).toEqual([{ answer: 42 }]);
    expect((await client.query(`SELECT id, body, version FROM "${readSchema}".notes`)).rows).toEqual([{ id: '1', body: 'first', version: 2 }]);

    const clash = notes('clash', { readSchema, table: 'order_report' });
    const error = await setupProjection(store, clash).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchemaConflictError);
    expect((error as SchemaConflictError).relation).toBe('order_report');
    expect((await client.query(`SELECT answer FROM "${readSchema}".order_report`)).rows).toEqual([{ answer: 42 }]);
  });

  it('keeps a user’s view of the read view working across a rebuild, and retires the old tables', async () => {
    const store = await openStore(`${base}_dep`);
    const v1 = notes('dep');
    const readSchema = readSchemaOf(store.schema, v1);
    await write(store, '1', 'before');
    await catchUpProjections(store, [v1]);
    await client.query(`CREATE VIEW "${base}_dep".note_bodies AS SELECT body FROM "${readSchema}".notes`);

    const v2 = notes('dep', { version: 2 });
    await startRebuild(store, v2);
    await write(store, '2', 'after');
    await catchUpProjections(store, [v2]);
    expect((await client.query(`SELECT body FROM "${base}_dep".note_bodies ORDER BY body`)).rows).toEqual([{ body: 'after' }, { body: 'before' }]);
    expect(await schemaExists(`${readSchema}#g1`)).toBe(false);
    expect(await schemaExists(`${readSchema}#g2`)).toBe(true);
  });

  it('leaves a retired generation in place while a view of the user’s still reads its tables', async () => {
    const store = await openStore(`${base}_keep`);
    const v1 = notes('keep');
    const readSchema = readSchemaOf(store.schema, v1);
    await write(store, '1', 'kept');
    await catchUpProjections(store, [v1]);
    await client.query(`CREATE VIEW "${base}_keep".straight AS SELECT body FROM "${readSchema}#g1".notes`);
    const v2 = notes('keep', { version: 2 });
    await startRebuild(store, v2);
    await catchUpProjections(store, [v2]);
    await setupProjection(store, v2); // drops what it can of the retired generations
    expect(await schemaExists(`${readSchema}#g1`)).toBe(true);
    expect((await client.query(`SELECT body FROM "${base}_keep".straight`)).rows).toEqual([{ body: 'kept' }]);
  });
});

describe('read schemas named by an earlier release', () => {
  it('move to the new name at setup, the old views working until their generation retires', async () => {
    const store = await openStore(`${base}_legacy`);
    const v1 = notes('legacy-notes');
    await write(store, '1', 'from before');
    await catchUpProjections(store, [v1]);
    // What an earlier release left: untagged views in `<store>_<name>` over `<store>_<name>__g1`.
    const readSchema = readSchemaOf(store.schema, v1);
    const oldRead = `${store.schema}_legacy_notes`;
    await client.query(`ALTER SCHEMA "${readSchema}" RENAME TO "${oldRead}"`);
    await client.query(`ALTER SCHEMA "${readSchema}#g1" RENAME TO "${oldRead}__g1"`);
    await client.query(`COMMENT ON SCHEMA "${oldRead}__g1" IS NULL; COMMENT ON VIEW "${oldRead}".notes IS NULL`);
    await client.query(`UPDATE "${store.schema}".projection_generations SET read_schema = $1, schema_name = $2`, [oldRead, `${oldRead}__g1`]);

    await write(store, '2', 'during');
    await catchUpProjections(store, [v1]);
    expect(await bodies(readSchema)).toEqual(['from before', 'during']);
    expect(await bodies(oldRead)).toEqual(['from before', 'during']);

    const v2 = notes('legacy-notes', { version: 2 });
    await startRebuild(store, v2);
    await catchUpProjections(store, [v2]);
    await setupProjection(store, v2);
    expect(await bodies(readSchema)).toEqual(['from before', 'during']);
    expect(await schemaExists(`${oldRead}__g1`)).toBe(false);
    expect((await client.query(`SELECT count(*)::int AS n FROM pg_views WHERE schemaname = $1`, [oldRead])).rows).toEqual([{ n: 0 }]);
  });
});
