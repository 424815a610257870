import { afterAll, describe, expect, it } from 'vitest';
import {
  catchUpProjections,
  createEventStore,
  defineConsumer,
  runConsumers,
  runProjections,
  SchemaNotMigratedError,
  type EventStore,
} from '../../src/index.js';
import { testDatabaseUrl, useTestSchema } from '../setup/database.js';
import { tallyProjection } from '../support/tally.js';

// Issue 13: a store used before `migrate()` failed with Postgres' `relation
// "annals.streams" does not exist`, and a projection worker retried that for ever. Now
// every layer reports SchemaNotMigratedError, naming the schema and what to run.

const { schema } = useTestSchema('not_migrated');
const quiet = { logger: { info() {}, warn() {}, error() {} } };
const stores: EventStore[] = [];
afterAll(() => Promise.all(stores.map((store) => store.close())));

function open(connection: 'postgres' | 'pglite'): EventStore {
  const store =
    connection === 'postgres' ? createEventStore({ connectionString: testDatabaseUrl }, { schema }) : createEventStore({ pglite: 'memory://' }, { schema });
  stores.push(store);
  return store;
}

async function notMigrated(attempt: Promise<unknown>): Promise<SchemaNotMigratedError> {
  const error = await attempt.then(
    () => expect.unreachable('succeeded on a schema never migrated'),
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(SchemaNotMigratedError);
  const typed = error as SchemaNotMigratedError;
  expect(typed).toMatchObject({ code: 'ANNALS_NOT_MIGRATED', schema });
  expect(typed.message).toMatch(new RegExp(`^the event store's schema "${schema}" is not migrated \\(it has no \\w+\\): run annals migrate, or store\\.migrate\\(\\), for this schema first$`));
  expect(typed.cause).toMatchObject({ code: '42P01' });
  return typed;
}

const liked = [{ type: 'Liked', data: { postId: '1' } }];

describe.each(['postgres', 'pglite'] as const)('a store whose schema was never migrated, on %s', (connection) => {
  const store = open(connection);

  it('refuses appends and reads, naming the table it lacks', async () => {
    expect((await notMigrated(store.appendToStream('post-1', liked))).relation).toBe('global_log');
    expect((await notMigrated(store.readStream('post-1'))).relation).toBe('streams');
    await notMigrated(store.readAll());
    await notMigrated(store.headPosition());
    await notMigrated(store.readCheckpoint('likes'));
    await notMigrated(store.withTransaction((tx) => tx.appendToStream('post-1', liked)));
  });

  it('fails a projection worker, a catch-up and a consumer worker at start instead of retrying for ever', async () => {
    const projections = runProjections(store, [tallyProjection()], quiet);
    const consumer = defineConsumer({ name: 'mails', eventTypes: ['Liked'], handle: async () => {} });
    const consumers = runConsumers(store, [consumer], quiet);
    try {
      await notMigrated(projections.ready);
      await notMigrated(consumers.ready);
    } finally {
      await Promise.all([projections.stop(), consumers.stop()]);
    }
    await notMigrated(catchUpProjections(store, [tallyProjection()], quiet));
  });
});

describe('errors that are not about the store', () => {
  it("keep Postgres' own error for a table of yours that does not exist", async () => {
    const store = open('postgres');
    await store.migrate();
    const missing = (text: string) =>
      store.withTransaction((tx) => tx.query(text), { appends: false }).then(
        () => expect.unreachable(),
        (error: unknown) => error,
      );
    for (const text of ['SELECT * FROM annals_no_such_table', `SELECT * FROM "${schema}_other".streams`]) {
      const error = await missing(text);
      expect(error).not.toBeInstanceOf(SchemaNotMigratedError);
      expect(error).toMatchObject({ code: '42P01' });
    }
    // And the migrated store works as ever.
    await store.appendToStream('post-1', liked);
    expect(await store.readStream('post-1')).toHaveLength(1);
  });
});
