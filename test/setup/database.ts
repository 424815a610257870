import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeEach, expect, onTestFinished } from 'vitest';
import { createEventStore, type EventStore, type EventStoreOptions } from '../../src/index.js';
import { testDatabaseUrl } from './database-url.js';

export { testDatabaseUrl };
export { eventually } from './eventually.js';

/**
 * A schema of its own for one test file (call at the top level of the file), so files run in parallel and re-run cleanly.
 * Dropped after the file, unless a test in it failed: then it is kept for inspection
 * (its name is printed) and the next run makes a new one. Called inside a test, it is
 * dropped when that test finishes (a hook registered while a test runs never runs).
 */
export function useTestSchema(prefix: string): { schema: string; databaseUrl: string } {
  const schema = `test_${prefix}_${randomBytes(4).toString('hex')}`;
  if (insideTest()) {
    onTestFinished(async (context) => {
      if (context.task.result?.state === 'fail') console.warn(`kept schema ${schema} of a failed test for inspection`);
      else await dropTestSchemas(schema);
    });
    return { schema, databaseUrl: testDatabaseUrl };
  }
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
    await dropTestSchemas(schema);
  });
  return { schema, databaseUrl: testDatabaseUrl };
}

/** Whether a test is running now (rather than the file being collected). */
const insideTest = (): boolean => expect.getState().currentTestName !== undefined;

/** A store's schema, its key store's (`<store>#keys`) and its projections' (`<store>:<name>`, `…#g<n>`). */
async function dropTestSchemas(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: testDatabaseUrl });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    const { rows } = await client.query<{ name: string }>(`SELECT nspname AS name FROM pg_namespace WHERE starts_with(nspname, $1) OR nspname = $2`, [`${schema}:`, `${schema}#keys`]);
    for (const { name } of rows) await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
  } finally {
    await client.end();
  }
}

/**
 * A migrated store in a fresh schema, closed after the file. Call it at the top level of
 * a test file (`const store = await createTestStore('name')`), not inside a hook: it
 * registers the file's clean-up hooks, and hooks registered while a hook runs never run.
 * Inside a test, the store and its schemas go when the test finishes.
 */
export async function createTestStore(prefix: string, options: EventStoreOptions = {}): Promise<EventStore> {
  const { schema } = useTestSchema(prefix);
  const store = createEventStore({ connectionString: testDatabaseUrl, maxConnections: 20 }, { schema, ...options });
  if (insideTest()) onTestFinished(() => store.close());
  else afterAll(() => store.close());
  await store.migrate();
  return store;
}
