import { afterEach, describe, expect, it } from 'vitest';
import { consumerStatus, defineConsumer, listDeadLetters, partitionOfKey, runConsumers, type ConsumerRunner, type EventStore } from '../../src/index.js';
import { createTestStore, eventually } from '../setup/database.js';
import { createHandledTable, readHandled, recordHandled } from './support/handled-table.js';
import { appendInterleaved, sortedIds, streamsCovering } from './support/log.js';

const store: EventStore = await createTestStore('consumers_parts');

const runners: ConsumerRunner[] = [];
afterEach(async () => {
  await Promise.all(runners.splice(0).map((runner) => runner.stop()));
});

/** Resolves once every partition of `name` has processed up to `target`. */
async function caughtUp(name: string, partitions: number, target: bigint): Promise<void> {
  await eventually(async () => {
    const status = await consumerStatus(store, [{ name }]);
    expect(status.partitions).toHaveLength(partitions);
    expect(status.partitions.filter((p) => p.position < target).map((p) => `partition ${p.partition} at ${p.position}`)).toEqual([]);
  }, 60_000);
}

describe('a consumer of 4 partitions run by two runners at once', () => {
  // Catches: two runners committing work of one partition (a fence that lets a worker
  // that lost a partition commit): an event inserted twice, refused by the primary key,
  // then retried and dead-lettered; an event skipped on a hand-over between the runners
  // (a checkpoint moved past what was handled); one key's events split between
  // partitions or handled out of order; a runner above its share that keeps it (B would
  // never get a partition). A live lease claimed by another runner is caught by
  // takeover.int.test.ts (a claim seen before the lease ran out): here the fence would
  // still keep every event once.
  it('handles each event exactly once, each stream in version order, whichever runner has which partition', async () => {
    const name = 'parts-writer';
    await createHandledTable(store, 'parts_handled');
    // Three streams in each partition, so every partition has work whoever holds it.
    const streams = streamsCovering('prt', 4, 3);
    const consumerFor = (worker: string) =>
      defineConsumer({
        name,
        categories: ['prt'],
        partitions: 4,
        batchSize: 5,
        handle: async (events, { tx, partition }) => {
          await recordHandled(tx, 'parts_handled', events, { partition, worker });
          // A little work per batch, so that batches of both runners overlap in time.
          await new Promise((resolve) => setTimeout(resolve, 5));
        },
      });
    const first = await appendInterleaved(store, streams, 4);

    // A first, alone: it claims all four.
    const a = runConsumers(store, [consumerFor('a')], { workerId: 'parts-a', pollIntervalMs: 50 });
    runners.push(a);
    await a.ready;
    expect((await consumerStatus(store, [{ name }])).partitions.map((p) => p.owner)).toEqual(['parts-a', 'parts-a', 'parts-a', 'parts-a']);
    // Then B joins, with more events appended while both run.
    const b = runConsumers(store, [consumerFor('b')], { workerId: 'parts-b', pollIntervalMs: 50 });
    runners.push(b);
    await b.ready;
    const second = await appendInterleaved(store, streams, 4, { from: 5 });
    // Shared: A gives back its surplus and B claims it; each ends up with two of the
    // four (which two is not promised).
    await eventually(async () => {
      const { partitions } = await consumerStatus(store, [{ name }]);
      const owners = partitions.map((p) => p.owner);
      expect(owners.filter((owner) => owner === 'parts-a')).toHaveLength(2);
      expect(owners.filter((owner) => owner === 'parts-b')).toHaveLength(2);
    }, 60_000);
    const third = await appendInterleaved(store, streams, 2, { from: 9 });
    const appended = [...first, ...second, ...third];
    await caughtUp(name, 4, appended.at(-1)!.globalPosition);

    const rows = await readHandled(store, 'parts_handled');
    expect(rows.map((row) => row.eventId).sort()).toEqual(sortedIds(appended));
    for (const row of rows) expect(row.partition, `${row.streamId} handled in partition ${row.partition}`).toBe(partitionOfKey(row.streamId, 4));
    for (const streamId of streams) {
      expect(rows.filter((row) => row.streamId === streamId).map((row) => row.version), streamId).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    }
    const { partitions, pendingDeadLetters } = await consumerStatus(store, [{ name }]);
    expect(pendingDeadLetters).toEqual({ [name]: 0 });
    expect(partitions.map((p) => p.retries)).toEqual([0, 0, 0, 0]);
    expect(partitions.reduce((sum, p) => sum + p.eventsProcessed, 0)).toBe(appended.length);
    expect(await listDeadLetters(store, { projection: name })).toEqual([]);

    // Stopped, they give their partitions back.
    await Promise.all(runners.splice(0).map((runner) => runner.stop()));
    expect((await consumerStatus(store, [{ name }])).partitions.map((p) => p.owner)).toEqual([null, null, null, null]);
    // Only a guard against a hang: the waits above are on what the database shows.
  }, 180_000);
});
