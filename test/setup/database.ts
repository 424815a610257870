import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeEach } from 'vitest';
import { createEventStore, type EventStore, type EventStoreOptions } from '../../src/index.js';
import { testDatabaseUrl } from './database-url.js';

export { testDatabaseUrl };
export { eventually } from './eventually.js';

/**
 * A schema of its own for one test file (call at the top level of the file), so files run in parallel and re-run cleanly.
 * Dropped after the file, unless a test in it failed: then it is kept for inspection
 * (its name is printed) and the next run makes a new one.
 */
export function useTestSchema(prefix: string): { schema: string; databaseUrl: string } {
  const schema = `test_${prefix}_${randomBytes(4).toString('hex')}`;
  let failed = false;
  beforeEach((context) => {
    context.onTestFailed(() => {
      failed = true;
    });
  });
  afterAll(async () => {
    if (failed) {
      console.warn(`kept schema ${schema} of a failed test for inspection`);
      return;
    }
    const client = new pg.Client({ connectionString: testDatabaseUrl });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    // Projections keep their read models in schemas named after the store's (`<store>:<name>`, `…#g<n>`).
    const { rows } = await client.query<{ name: string }>(`SELECT nspname AS name FROM pg_namespace WHERE starts_with(nspname, $1) OR nspname = $2`, [`${schema}:`, `${schema}#keys`]);
    for (const { name } of rows) await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
    await client.end();
  });
  return { schema, databaseUrl: testDatabaseUrl };
}

/**
 * A migrated store in a fresh schema, closed after the file. Call it at the top level of
 * a test file (`const store = await createTestStore('name')`), not inside a hook: it
 * registers the file's clean-up hooks, and hooks registered while a hook runs never run.
 */
export async function createTestStore(prefix: string, options: EventStoreOptions = {}): Promise<EventStore> {
  const { schema } = useTestSchema(prefix);
  const store = createEventStore({ connectionString: testDatabaseUrl, maxConnections: 20 }, { schema, ...options });
  afterAll(() => store.close());
  await store.migrate();
  return store;
}
