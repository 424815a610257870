import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { createTestStore, eventually, testDatabaseUrl } from '../setup/database.js';

// Hot-path statements run as named prepared statements on each connection. A migration
// that later changes the tables must not break connections that prepared them before.
const store = await createTestStore('prepared', {});
const admin = new pg.Client({ connectionString: testDatabaseUrl });
await admin.connect();
afterAll(() => admin.end());

it('keeps working after a migration adds columns to the tables it reads', async () => {
  const id = `post-${randomUUID()}`;
  const warm = async () => {
    for (let i = 0; i < 8; i++) {
      // Past Postgres' five custom plans, so the generic plan is cached too.
      await store.appendToStream(id, [{ type: 'LikeCreated', data: { i } }]);
      await store.readStream(id);
      await store.readAll({ after: 0n, categories: ['post'], limit: 5 });
    }
  };
  await warm();

  await admin.query(`ALTER TABLE "${store.schema}".events ADD COLUMN later_column text`);
  await admin.query(`ALTER TABLE "${store.schema}".streams ADD COLUMN later_column text`);

  await warm();
  expect((await store.readStream(id)).map((e) => e.version)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
  await eventually(async () => {
    const logged = (await store.readAll({ categories: ['post'] })).filter((e) => e.streamId === id);
    expect(logged).toHaveLength(16);
    expect(Object.keys(logged[0]!).sort()).toEqual(
      ['data', 'globalPosition', 'id', 'metadata', 'recordedAt', 'schemaVersion', 'streamId', 'type', 'version'],
    );
  });
});
