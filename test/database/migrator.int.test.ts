import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventStore, MigrationError } from '../../src/index.js';
import { loadMigrations, migrate } from '../../src/database/migrator.js';
import type { EventStoreTables } from '../../src/database/tables.js';
import { testDatabaseUrl, useTestSchema } from '../setup/database.js';

const { schema } = useTestSchema('migrator');
const { schema: otherSchema } = useTestSchema('migrator_other');
let admin: pg.Client;
beforeAll(async () => {
  admin = new pg.Client({ connectionString: testDatabaseUrl });
  await admin.connect();
});
afterAll(() => admin.end());

describe('migrator', () => {
  it('8 sessions migrating one fresh schema at once: one applies, none fails', async () => {
    // Separate pools: separate sessions, as separate processes would have (the lock is per session).
    const stores = Array.from({ length: 8 }, () => createEventStore({ connectionString: testDatabaseUrl }, { schema }));
    try {
      const results = await Promise.all(stores.map((store) => store.migrate()));
      const applied = results.flatMap((result) => result.applied);
      const migrations = await loadMigrations();
      expect(migrations.map((m) => m.name).slice(0, 3)).toEqual(['0001_event_store', '0002_snapshots', '0003_checkpoints']);
      expect(applied).toEqual(migrations.map((m) => m.name));
      const { rows } = await admin.query(`SELECT version, name, checksum FROM "${schema}".annals_migrations ORDER BY version`);
      expect(rows).toEqual(migrations.map((m) => ({ version: m.version, name: m.name, checksum: m.checksum })));
      // Re-running is a no-op.
      expect(await stores[0]!.migrate()).toEqual({ applied: [] });
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it('keeps each schema separate', async () => {
    const a = createEventStore({ connectionString: testDatabaseUrl }, { schema });
    const b = createEventStore({ connectionString: testDatabaseUrl }, { schema: otherSchema });
    try {
      await a.migrate();
      await b.migrate();
      await a.appendToStream('post-1', [{ type: 'LikeCreated', data: {} }]);
      expect(await b.readStream('post-1')).toEqual([]);
      expect((await a.readStream('post-1')).length).toBe(1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('refuses to run when an applied migration’s file has changed', async () => {
    const db = new Kysely<EventStoreTables>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: testDatabaseUrl }) }) });
    try {
      const [first] = await loadMigrations();
      const edited = { ...first!, sql: `${first!.sql}\n-- edited`, checksum: 'f'.repeat(64) };
      const error = await migrate(db, schema, [edited]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationError);
      expect(error).toMatchObject({ code: 'ANNALS_MIGRATION', migration: '0001_event_store' });
      expect((error as Error).message).toMatch(/forward-only/);
    } finally {
      await db.destroy();
    }
  });

  it('applies nothing of a migration that fails, and says which one', async () => {
    const db = new Kysely<EventStoreTables>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: testDatabaseUrl }) }) });
    try {
      const migrations = await loadMigrations();
      const broken = { version: 9999, name: '9999_broken', checksum: 'x', sql: 'CREATE TABLE half_done (id int); SELECT * FROM no_such_table;' };
      const error = await migrate(db, schema, [...migrations, broken]).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ANNALS_MIGRATION', migration: '9999_broken' });
      const { rows } = await admin.query(`SELECT to_regclass($1) AS t`, [`"${schema}".half_done`]);
      expect(rows[0].t).toBeNull();
    } finally {
      await db.destroy();
    }
  });
});
