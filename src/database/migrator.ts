import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { sql, type Kysely, type Transaction } from 'kysely';
import { MigrationError } from '../errors.js';
import type { MigrationResult } from './migration-result.js';
import type { EventStoreTables } from './tables.js';
import { quoteIdent } from './quote-ident.js';
import { embeddedMigrations } from './embedded-migrations.js';

export interface Migration {
  version: number;
  name: string;
  /** sha256 of the file's text with LF line endings. */
  checksum: string;
  /**
   * sha256 of the same text with CRLF line endings: what was recorded for a database
   * migrated from a Windows checkout before line endings were made LF. Accepted too.
   */
  crlfChecksum?: string;
  sql: string;
}

const migrationFile = /^\d{4}_[\w-]+\.sql$/;

/**
 * The migrations, ordered by number: by default the copies of `migrations/NNNN_name.sql`
 * embedded in the code (embedded-migrations.ts), so that an installed, relocated or
 * bundled build runs exactly what it was built with, wherever its files are; from
 * `folder` when given (tests read edited copies that way).
 *
 * Line endings are made LF (CRLF and lone CR) before the checksum is taken and the SQL
 * run: a Windows checkout (git's autocrlf) of the same files then verifies against a
 * database migrated from LF files, and the other way round. LF files are unchanged by
 * this, so their checksums, and those recorded by databases already migrated, stay as
 * they were; a database migrated from a CRLF checkout before this recorded the CRLF
 * text's checksum, which `crlfChecksum` keeps accepted.
 */
export async function loadMigrations(folder?: URL): Promise<Migration[]> {
  if (folder === undefined) return embeddedMigrations.map(({ file, text }) => toMigration(file, text));
  const files = (await readdir(folder)).filter((file) => migrationFile.test(file)).sort();
  return Promise.all(files.map(async (file) => toMigration(file, await readFile(new URL(file, folder), 'utf8'))));
}

function toMigration(file: string, original: string): Migration {
  const text = original.replace(/\r\n?/g, '\n');
  return {
    version: Number.parseInt(file.slice(0, 4), 10),
    name: file.replace(/\.sql$/, ''),
    checksum: sha256(text),
    crlfChecksum: sha256(text.replaceAll('\n', '\r\n')),
    sql: text,
  };
}

/**
 * Brings `schema` up to date: applies, in order and in one transaction, every migration
 * not yet recorded in `schema.annals_migrations`.
 *
 * Safe to call from many processes at once: the transaction first takes an advisory lock
 * keyed by the schema name, so one process migrates while the others wait and then find
 * nothing left to do. Re-running is a no-op. A recorded migration whose file has changed
 * since (checksum mismatch) is an error: migrations are forward-only.
 */
export async function migrate(
  db: Kysely<EventStoreTables>,
  schema: string,
  migrations?: Migration[],
): Promise<MigrationResult> {
  return migrateWith(db, schema, migrations, async () => ({}));
}

/**
 * `migrate`, then `after` in the same transaction, under the same lock: the event store
 * uses it to raise the log's position offset (raiseLogOffset).
 */
export async function migrateWith(
  db: Kysely<EventStoreTables>,
  schema: string,
  migrations: Migration[] | undefined,
  after: (trx: Transaction<EventStoreTables>) => Promise<Omit<MigrationResult, 'applied'>>,
): Promise<MigrationResult> {
  const all = migrations ?? (await loadMigrations());
  return db.transaction().execute(async (trx) => {
    // Taken before CREATE SCHEMA: two concurrent CREATE SCHEMA IF NOT EXISTS can both
    // pass the existence check and one then fails on the catalog's unique index.
    await sql`SELECT pg_advisory_xact_lock(hashtext(${`annals:migrate:${schema}`}))`.execute(trx);
    await sql`CREATE SCHEMA IF NOT EXISTS ${sql.id(schema)}`.execute(trx);
    // Migration files name their tables unqualified; they land in `schema`.
    await sql`SELECT set_config('search_path', ${quoteIdent(schema)}, true)`.execute(trx);
    await sql`
      CREATE TABLE IF NOT EXISTS annals_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`.execute(trx);
    const recorded = await trx
      .withSchema(schema)
      .selectFrom('annals_migrations')
      .select(['version', 'name', 'checksum'])
      .execute();
    const byVersion = new Map(recorded.map((row) => [row.version, row]));
    const applied: string[] = [];
    for (const migration of all) {
      const previous = byVersion.get(migration.version);
      if (previous) {
        if (previous.checksum !== migration.checksum && previous.checksum !== migration.crlfChecksum) {
          throw new MigrationError(
            migration.name,
            `was applied with checksum ${previous.checksum}, but the file now has ${migration.checksum}; migrations are forward-only, add a new one instead`,
          );
        }
        continue;
      }
      try {
        await sql.raw(migration.sql).execute(trx);
      } catch (error) {
        throw new MigrationError(migration.name, `failed: ${(error as Error).message}`, { cause: error });
      }
      await trx
        .withSchema(schema)
        .insertInto('annals_migrations')
        .values({ version: migration.version, name: migration.name, checksum: migration.checksum })
        .execute();
      applied.push(migration.name);
    }
    return { applied, ...(await after(trx)) };
  });
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
