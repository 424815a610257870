import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  catchUpConsumers,
  catchUpProjections,
  consumerStatus,
  defineConsumer,
  defineProjection,
  runConsumers,
  ValidationError,
  type ConsumerRunner,
  type EventStore,
} from '../../src/index.js';
import { createTestStore } from '../setup/database.js';

const store: EventStore = await createTestStore('consumers_valid');

const runners: ConsumerRunner[] = [];
afterEach(async () => {
  await Promise.all(runners.splice(0).map((runner) => runner.stop()));
});

const handle = async () => {};

/** What `promise` rejected with; fails the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('resolved; a rejection was expected'),
    (error: unknown) => error,
  );
}

function expectValidation(error: unknown, field: string): ValidationError {
  expect(error).toBeInstanceOf(ValidationError);
  const validation = error as ValidationError;
  expect(validation.issues.map((issue) => issue.field)).toContain(field);
  return validation;
}

/** A projection that counts nothing much: only its name matters here. */
const projectionNamed = (name: string) =>
  defineProjection({
    name,
    version: 1,
    events: { Noted: z.object({}) },
    schema: async (db) => {
      await db.schema.createTable('notes').addColumn('id', 'text', (c) => c.primaryKey()).execute();
    },
    apply: async () => {},
  });

describe('runConsumers refuses what it cannot run', () => {
  // Catches: two loops of one consumer in one process (they would fight over its
  // partitions and handle events twice, or deadlock on their own leases).
  it('refuses the same consumer twice, or two consumers of one name, before setting anything up', async () => {
    const consumer = defineConsumer({ name: 'valid-twice', handle });
    const again = () => runConsumers(store, [consumer, consumer]);
    expect(again).toThrow(ValidationError);
    expect(() => runConsumers(store, [consumer, defineConsumer({ name: 'valid-twice', mode: 'at-least-once', handle })])).toThrow(ValidationError);
    try {
      again();
    } catch (error) {
      expect(expectValidation(error, 'consumers[1].name').reason).toContain("'valid-twice'");
    }
    expect((await consumerStatus(store, [consumer])).partitions).toEqual([]);
  });

  // Catches: a new partition count taken silently: keys would move to partitions whose
  // checkpoints are elsewhere, skipping or repeating their events.
  it('rejects ready with a ValidationError naming consumer.partitions when the count went down since it was set up', async () => {
    await catchUpConsumers(store, [defineConsumer({ name: 'valid-fewer', partitions: 3, handle })]);

    const runner = runConsumers(store, [defineConsumer({ name: 'valid-fewer', partitions: 2, handle })], { pollIntervalMs: 50 });
    runners.push(runner);
    const error = expectValidation(await rejection(runner.ready), 'consumer.partitions');
    expect(error.reason).toContain('has 3 partitions');
    // Nothing changed: still the three it had, and no one owns them.
    const { partitions } = await consumerStatus(store, [{ name: 'valid-fewer' }]);
    expect(partitions.map((p) => [p.partition, p.owner])).toEqual([
      [0, null],
      [1, null],
      [2, null],
    ]);
    // The same count as before still runs.
    await catchUpConsumers(store, [defineConsumer({ name: 'valid-fewer', partitions: 3, handle })]);
  });

  // A count that went up: see partition-count-growth.int.test.ts (a product bug).

  // Catches: a consumer that takes over a projection's checkpoints (its partition rows
  // share one table), moving them while the projection's workers read them.
  it('rejects a consumer named like a projection of the store, naming consumer.name', async () => {
    await catchUpProjections(store, [projectionNamed('valid-projection-first')]);

    const runner = runConsumers(store, [defineConsumer({ name: 'valid-projection-first', handle })], { pollIntervalMs: 50 });
    runners.push(runner);
    const error = expectValidation(await rejection(runner.ready), 'consumer.name');
    expect(error.reason).toContain('is a projection');
    expectValidation(await rejection(catchUpConsumers(store, [defineConsumer({ name: 'valid-projection-first', handle })])), 'consumer.name');
  });

  // Catches: the reverse: a projection set up over a consumer's partitions and checkpoints.
  it('rejects a projection named like a consumer of the store, naming projection.name', async () => {
    await catchUpConsumers(store, [defineConsumer({ name: 'valid-consumer-first', handle })]);

    const error = expectValidation(await rejection(catchUpProjections(store, [projectionNamed('valid-consumer-first')], { timeoutMs: 30_000 })), 'projection.name');
    expect(error.reason).toContain('is a consumer');
    // The consumer still runs.
    await catchUpConsumers(store, [defineConsumer({ name: 'valid-consumer-first', handle })]);
  });
});
