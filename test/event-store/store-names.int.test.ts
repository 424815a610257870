/**
 * One name, one store: Postgres keeps 63 bytes of an identifier and silently cuts the
 * rest, so store names are limited in bytes, not characters (issue 11, 2).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createEventStore, ValidationError, type EventStore } from '../../src/index.js';
import { loadConfig } from '../../src/cli/config.js';
import { testDatabaseUrl } from '../setup/database.js';

const prefix = `test_names_${randomBytes(3).toString('hex')}_`;
const opened: EventStore[] = [];
afterAll(async () => {
  for (const store of opened) await store.close();
  const client = new pg.Client({ connectionString: testDatabaseUrl });
  await client.connect();
  const { rows } = await client.query<{ name: string }>(`SELECT nspname AS name FROM pg_namespace WHERE starts_with(nspname, $1)`, [prefix]);
  for (const { name } of rows) await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
  await client.end();
});

function refusal(schema: string): ValidationError {
  try {
    opened.push(createEventStore({ connectionString: testDatabaseUrl }, { schema }));
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error(`schema '${schema}' was accepted`);
}

describe('store schema names', () => {
  it('are refused past 63 bytes of UTF-8, though 37 characters (two names Postgres would cut to one)', () => {
    // 'test_names_xxxxxx_' is 18 bytes; 'é' is 2: 18 + 44 + 1 = 63 fits, one more é does not.
    const fits = `${prefix}${'é'.repeat(22)}A`;
    expect(Buffer.byteLength(fits)).toBe(63);
    const a = `${prefix}${'é'.repeat(23)}A`;
    const b = `${prefix}${'é'.repeat(23)}B`;
    for (const name of [a, b]) {
      const error = refusal(name);
      expect(error.field).toBe('options.schema');
      expect(error.reason).toMatch(/at most 63 bytes.*got 65/);
    }
  });

  it('of 63 bytes work, and two that differ only in their last byte are two stores', async () => {
    const a = createEventStore({ connectionString: testDatabaseUrl }, { schema: `${prefix}${'é'.repeat(22)}A` });
    const b = createEventStore({ connectionString: testDatabaseUrl }, { schema: `${prefix}${'é'.repeat(22)}B` });
    opened.push(a, b);
    await a.migrate();
    expect((await b.migrate()).applied.length).toBeGreaterThan(0);
    await a.appendToStream('note-1', [{ type: 'NoteWritten', data: { by: 'a' } }]);
    expect(await b.readAll()).toEqual([]);
    expect((await a.readAll()).map((event) => event.data)).toEqual([{ by: 'a' }]);
  });

  it('with a NUL or an unpaired surrogate are refused', () => {
    expect(refusal(`${prefix}a\0b`).reason).toMatch(/NUL/);
    expect(refusal(`${prefix}${'😀'.slice(0, 1)}`).reason).toMatch(/unpaired surrogate/);
  });

  it('are checked the same way in annals.config.ts', async () => {
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const directory = await mkdtemp(join(tmpdir(), 'annals-names-'));
    const file = join(directory, 'annals.config.mjs');
    await writeFile(file, `export default { schema: ${JSON.stringify(`${prefix}${'é'.repeat(23)}A`)}, projections: [] };\n`);
    await expect(loadConfig(file)).rejects.toThrow(/schema.*63 bytes/);
  });
});

describe('store schema names and read-model schemas', () => {
  it("refuse ':' and '#', which only the schemas of projections' read models hold", () => {
    // Review of issue 11: a store named like another store's generation schema migrated
    // into it, and that projection's next rebuild dropped the store's tables.
    expect(refusal(`${prefix}a:p#g1`).reason).toMatch(/':' or '#'/);
    expect(refusal(`${prefix}a:p`).field).toBe('options.schema');
    expect(refusal(`${prefix}a#g1`).field).toBe('options.schema');
  });
});
