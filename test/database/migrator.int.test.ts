import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventStore, MigrationError } from '../../src/index.js';
import { loadMigrations, migrate } from '../../src/database/migrator.js';
import type { EventStoreTables } from '../../src/database/tables.js';
import { testDatabaseUrl, useTestSchema } from '../setup/database.js';

const { schema } = useTestSchema('migrator');
const { schema: otherSchema } = useTestSchema('migrator_other');
const { schema: lfFirstSchema } = useTestSchema('migrator_lf_first');
const { schema: crlfFirstSchema } = useTestSchema('migrator_crlf_first');
const { schema: crlfBeforeFixSchema } = useTestSchema('migrator_crlf_before_fix');
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

  describe('line endings (a Windows checkout with git autocrlf)', () => {
    const shipped = new URL('../../migrations/', import.meta.url);
    const folders: string[] = [];
    afterAll(() => Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true }))));

    /** A folder holding copies of the shipped migrations with `eol` for line endings, `edit` applied to the text. */
    async function copies(eol: '\r\n' | '\r', edit: (name: string, text: string) => string = (_name, text) => text): Promise<URL> {
      const folder = await mkdtemp(join(tmpdir(), 'annals-migrations-'));
      folders.push(folder);
      for (const file of (await readdir(shipped)).filter((name) => name.endsWith('.sql'))) {
        const text = await readFile(new URL(file, shipped), 'utf8');
        await writeFile(join(folder, file), edit(file, text).replaceAll('\n', eol));
      }
      return pathToFileURL(`${folder}/`);
    }

    async function withDb<T>(run: (db: Kysely<EventStoreTables>) => Promise<T>): Promise<T> {
      const db = new Kysely<EventStoreTables>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: testDatabaseUrl }) }) });
      try {
        return await run(db);
      } finally {
        await db.destroy();
      }
    }

    it('keeps the checksums of the shipped LF files: the sha256 of their text as it is', async () => {
      const migrations = await loadMigrations();
      for (const migration of migrations) {
        const text = await readFile(new URL(`${migration.name}.sql`, shipped), 'utf8');
        expect(text).not.toMatch(/\r/);
        expect(migration.checksum).toBe(createHash('sha256').update(text).digest('hex'));
      }
    });

    it('accepts CRLF and CR copies against a database migrated from the LF files, and applies nothing', async () => {
      await withDb(async (db) => {
        const lf = await loadMigrations();
        expect((await migrate(db, lfFirstSchema, lf)).applied).toEqual(lf.map((m) => m.name));
        for (const eol of ['\r\n', '\r'] as const) {
          const copied = await loadMigrations(await copies(eol));
          expect(copied.map((m) => m.checksum)).toEqual(lf.map((m) => m.checksum));
          expect(await migrate(db, lfFirstSchema, copied)).toEqual({ applied: [] });
        }
      });
    });

    it('accepts the LF files against a database migrated from CRLF copies, which records the LF checksums', async () => {
      await withDb(async (db) => {
        const crlf = await loadMigrations(await copies('\r\n'));
        expect(crlf.every((m) => !m.sql.includes('\r'))).toBe(true);
        expect((await migrate(db, crlfFirstSchema, crlf)).applied).toEqual(crlf.map((m) => m.name));
        const lf = await loadMigrations();
        expect(await migrate(db, crlfFirstSchema, lf)).toEqual({ applied: [] });
        const { rows } = await admin.query(`SELECT name, checksum FROM "${crlfFirstSchema}".annals_migrations ORDER BY version`);
        expect(rows).toEqual(lf.map((m) => ({ name: m.name, checksum: m.checksum })));
      });
    });

    it('accepts both line endings against a database migrated from a CRLF checkout before line endings were normalised', async () => {
      await withDb(async (db) => {
        // What Annals recorded then: the sha256 of the CRLF text as it was read.
        const folder = await copies('\r\n');
        const before = await Promise.all(
          (await loadMigrations(folder)).map(async (m) => {
            const raw = await readFile(new URL(`${m.name}.sql`, folder), 'utf8');
            return { ...m, sql: raw, checksum: createHash('sha256').update(raw).digest('hex') };
          }),
        );
        await migrate(db, crlfBeforeFixSchema, before);
        expect(await migrate(db, crlfBeforeFixSchema, await loadMigrations(folder))).toEqual({ applied: [] });
        expect(await migrate(db, crlfBeforeFixSchema, await loadMigrations())).toEqual({ applied: [] });
        const edited = await copies('\r\n', (name, text) => (name.startsWith('0003_') ? `${text}-- edited\n` : text));
        await expect(migrate(db, crlfBeforeFixSchema, await loadMigrations(edited))).rejects.toMatchObject({ code: 'ANNALS_MIGRATION', migration: '0003_checkpoints' });
      });
    });

    it('still refuses a CRLF copy whose text really changed', async () => {
      await withDb(async (db) => {
        const edited = await copies('\r\n', (name, text) => (name.startsWith('0002_') ? `${text}-- edited\n` : text));
        const error = await migrate(db, lfFirstSchema, await loadMigrations(edited)).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(MigrationError);
        expect(error).toMatchObject({ code: 'ANNALS_MIGRATION', migration: '0002_snapshots' });
        expect((error as Error).message).toMatch(/forward-only/);
      });
    });
  });
});
