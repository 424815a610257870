import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createEventStore } from '../../src/index.js';
import { maxBranches } from '../../src/event-store/postgres/log-branches.js';
import { eventually, testDatabaseUrl, useTestSchema } from '../setup/database.js';

// Issue 11, item 6: a `types` or `categories` filter went to Postgres as `IN ($5, $6, …)`,
// one statement text per length of the list, and readAll runs as a named prepared
// statement: 2,000 calls with 1..2,000 types left 2,000 prepared statements and 346 MB
// on one connection. The lists now travel as one array parameter each.

const { schema } = useTestSchema('read_filters');
// One connection, so every call below prepares its statements on the backend inspected.
const store = createEventStore({ connectionString: testDatabaseUrl, maxConnections: 1 }, { schema, maxEventsPerAppend: 100_000 });
afterAll(() => store.close());
await store.migrate();

const names = (prefix: string, length: number) => Array.from({ length }, (_, i) => `${prefix}${i}`);

/** The named statements prepared on the store's one connection, with its memory. */
async function backendState(): Promise<{ statements: number; bytes: number }> {
  const [row] = await store.withTransaction(
    (tx) =>
      tx.query<{ statements: number; bytes: string }>(
        `SELECT (SELECT count(*)::int FROM pg_prepared_statements) AS statements,
                (SELECT sum(total_bytes) FROM pg_backend_memory_contexts) AS bytes`,
      ),
    { appends: false },
  );
  return { statements: row!.statements, bytes: Number(row!.bytes) };
}

describe('filters of any length', () => {
  it('leave a bounded number of prepared statements on a connection', async () => {
    const category = `filtered${randomUUID().slice(0, 8)}`;
    const { eventIds } = await store.appendToStream(`${category}-1`, [{ type: 'Seen', data: {} }]);
    const calls = async (length: number) => {
      await store.readAll({ types: [...names('Type', length - 1), 'Seen'], limit: 10 });
      await store.readAll({ categories: [...names('cat', length - 1), category] });
      await store.readAll({ types: names('Type', length), categories: names('cat', length), after: 1n });
      await store.readEventsById([...Array.from({ length: length - 1 }, () => randomUUID()), ...eventIds]);
    };
    // Up to maxBranches values, each length reads in branches of its own (log-branches.ts),
    // as a statement that is not prepared; past it, one `= ANY` condition. Either way no
    // statement is left on the connection per length.
    for (let length = 1; length <= maxBranches + 1; length++) await calls(length);
    const before = await backendState();

    for (let length = maxBranches + 2; length <= 400; length++) await calls(length);
    for await (const event of store.iterateAll({ types: names('Type', 500), batchSize: 2 })) expect(event).toBeUndefined();

    const after = await backendState();
    expect(after.statements).toBe(before.statements);
    expect(after.statements).toBeLessThan(30);
    // Without the fix: hundreds of cached plans, tens of megabytes.
    expect(after.bytes - before.bytes).toBeLessThan(8 * 1024 * 1024);
    await eventually(async () => {
      const seen = await store.readAll({ types: [...names('Type', 399), 'Seen'], categories: [category] });
      expect(seen.map((event) => event.id)).toEqual(eventIds);
    });
  });

  it('refuses a filter of more than 100,000 names, naming the field', async () => {
    await expect(store.readAll({ types: names('Type', 100_001) })).rejects.toMatchObject({
      code: 'ANNALS_VALIDATION',
      field: 'options.types',
      reason: expect.stringMatching(/at most 100,000/),
    });
    await expect(store.readAll({ categories: names('cat', 100_001) })).rejects.toMatchObject({ field: 'options.categories' });
    await expect(store.readEventsById(Array.from({ length: 100_001 }, () => randomUUID()))).rejects.toMatchObject({
      field: 'eventIds',
    });
    expect(await store.readAll({ types: names('Type', 100_000), limit: 1 })).toEqual([]);
  });

  it('recognizes a retried append of 70,000 events in a transaction', async () => {
    const stream = `bulk-${randomUUID()}`;
    const events = Array.from({ length: 70_000 }, (_, i) => ({ type: 'Imported', data: { i }, id: randomUUID() }));
    const first = await store.withTransaction((tx) => tx.appendToStream(stream, events, { expectedVersion: 'no_stream' }));
    const retried = await store.withTransaction((tx) => tx.appendToStream(stream, events, { expectedVersion: 'no_stream' }));
    expect(first.written).toBe(true);
    expect(retried).toEqual({ ...first, written: false });
    expect((await store.getStreamInfo(stream))?.version).toBe(70_000);
  });
});
