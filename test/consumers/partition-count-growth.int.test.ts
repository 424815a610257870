/**
 * A consumer's partition count that went UP must be refused like one that went down: the
 * new partition would start at position 0 (at the head with startAt 'now'), so every key
 * that hashes to it under the new count would be handled again from the start of the log
 * (or, with 'now', its unhandled events skipped). Found by this test: ensurePartitions
 * inserted the missing rows before counting them, so the count always looked right.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { catchUpConsumers, consumerStatus, createEventStore, defineConsumer, runConsumers, ValidationError, type ConsumerRunner } from '../../src/index.js';
import { testDatabaseUrl } from '../setup/database.js';
import { appendInterleaved } from './support/log.js';

const schema = `test_consumers_growth_${randomBytes(4).toString('hex')}`;
const store = createEventStore({ connectionString: testDatabaseUrl, maxConnections: 10 }, { schema });
await store.migrate();
const runners: ConsumerRunner[] = [];
afterAll(async () => {
  await Promise.all(runners.map((runner) => runner.stop()));
  // The store's schema and its key store's (`<store>#keys`).
  await store.withTransaction((tx) => tx.query(`DROP SCHEMA IF EXISTS "${schema}", "${schema}#keys" CASCADE`), { appends: false });
  await store.close();
});

describe('a consumer whose partition count went up since it was set up', () => {
  // Catches: keys moved to a new partition whose checkpoint is at the start
  // of the log: their events handled a second time.
  it('is refused: ready rejects with a ValidationError naming consumer.partitions, and nothing is handled again', async () => {
    await appendInterleaved(store, ['grow-a', 'grow-b', 'grow-c', 'grow-d', 'grow-e', 'grow-f'], 2);
    const handled: string[] = [];
    const handle = async (events: { id: string }[]) => void handled.push(...events.map((event) => event.id));
    await catchUpConsumers(store, [defineConsumer({ name: 'growth', partitions: 2, handle })]);
    expect(handled).toHaveLength(12);

    const runner = runConsumers(store, [defineConsumer({ name: 'growth', partitions: 3, handle })], { pollIntervalMs: 50 });
    runners.push(runner);
    const error = await runner.ready.then(
      () => expect.fail('ready resolved: the new count was taken'),
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((issue) => issue.field)).toContain('consumer.partitions');
    expect((await consumerStatus(store, [{ name: 'growth' }])).partitions).toHaveLength(2);
    expect(handled).toHaveLength(12);
  });
});
