import { afterEach, describe, expect, it } from 'vitest';
import {
  catchUpConsumers,
  consumerStatus,
  defineConsumer,
  listDeadLetters,
  partitionOfKey,
  runConsumers,
  type ConsumerRunner,
  type EventStore,
  type RecordedEvent,
} from '../../src/index.js';
import { createTestStore, eventually } from '../setup/database.js';
import { appendInterleaved, sortedIds } from './support/log.js';

const store: EventStore = await createTestStore('consumers_alo');
const retries = { attempts: 3, minDelayMs: 1, maxDelayMs: 5 };

const runners: ConsumerRunner[] = [];
afterEach(async () => {
  await Promise.all(runners.splice(0).map((runner) => runner.stop()));
});

/** The versions each stream's events were delivered in, in delivery order. */
function versionsByStream(events: readonly RecordedEvent[]): Record<string, number[]> {
  const byStream: Record<string, number[]> = {};
  for (const event of events) (byStream[event.streamId] ??= []).push(event.version);
  return byStream;
}

describe("a consumer in mode 'at-least-once'", () => {
  // Catches: a transaction handed to an at-least-once handler (its side effects would
  // look transactional and are not); events of one key split between partitions or
  // handed over out of order (per key order is the promise, across keys none); an
  // event delivered to the wrong partition; a checkpoint that misses the head.
  it('gets tx undefined, and each key\'s events in log order, in the partition of its key', async () => {
    const streams = ['alo-a', 'alo-b', 'alo-c', 'alo-d', 'alo-e'];
    const appended = await appendInterleaved(store, streams, 6);
    const delivered: RecordedEvent[] = [];
    const contexts: { tx: unknown; partition: number; streams: string[] }[] = [];
    const consumer = defineConsumer({
      name: 'alo-order',
      mode: 'at-least-once',
      categories: ['alo'],
      partitions: 2,
      batchSize: 3,
      handle: async (events, context) => {
        contexts.push({ tx: context.tx, partition: context.partition, streams: events.map((event) => event.streamId) });
        delivered.push(...events);
      },
    });

    await catchUpConsumers(store, [consumer], { retries });

    expect(contexts.length).toBeGreaterThan(0);
    expect(contexts.filter((context) => context.tx !== undefined)).toEqual([]);
    for (const { partition, streams: batch } of contexts) {
      for (const streamId of batch) expect(partitionOfKey(streamId, 2), `${streamId} delivered to partition ${partition}`).toBe(partition);
    }
    expect(versionsByStream(delivered)).toEqual(Object.fromEntries(streams.map((streamId) => [streamId, [1, 2, 3, 4, 5, 6]])));
    expect(sortedIds(delivered)).toEqual(sortedIds(appended));
    const { head, partitions } = await consumerStatus(store, [consumer]);
    expect(partitions.map((p) => p.position)).toEqual([head, head]);
  });

  // Catches: a checkpoint committed with the read, before the handler ran (the batch
  // would show as done while its side effects are still under way, and a crash then
  // would lose them).
  it('moves the checkpoint only once the handler has returned', async () => {
    const appended = await appendInterleaved(store, ['alw-a'], 3);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered = 0;
    const consumer = defineConsumer({
      name: 'alo-wait',
      mode: 'at-least-once',
      categories: ['alw'],
      handle: async (events) => {
        if (events.length === 0) return;
        entered++;
        await held;
      },
    });
    const runner = runConsumers(store, [consumer], { pollIntervalMs: 50, retries });
    runners.push(runner);
    await runner.ready;
    await eventually(async () => expect(entered).toBe(1));

    // The handler is still working: the checkpoint has not moved past any of its events.
    const before = await consumerStatus(store, [consumer]);
    expect(before.partitions[0]!.position).toBeLessThan(appended[0]!.globalPosition);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await consumerStatus(store, [consumer])).partitions[0]!.position).toBe(before.partitions[0]!.position);

    release();
    await eventually(async () => {
      const { partitions } = await consumerStatus(store, [consumer]);
      expect(partitions[0]!.position).toBeGreaterThanOrEqual(appended.at(-1)!.globalPosition);
    });
    expect(entered).toBe(1);
  });

  // Catches: a checkpoint moved past an event whose handler threw (the event lost,
  // never delivered again), or a redelivery from further back than the checkpoint.
  it('delivers an event again after its handler threw, the checkpoint still before it: the receiver dedupes by event.id', async () => {
    const appended = await appendInterleaved(store, ['alr-a', 'alr-b'], 4);
    const culprit = appended.find((event) => event.streamId === 'alr-a' && event.version === 3)!;
    const deliveries: string[] = [];
    const checkpointsAtDelivery: bigint[] = [];
    let thrown = false;
    const consumer = defineConsumer({
      name: 'alo-redeliver',
      mode: 'at-least-once',
      categories: ['alr'],
      batchSize: 4,
      handle: async (events) => {
        for (const event of events) {
          deliveries.push(event.id);
          if (event.id !== culprit.id) continue;
          // Outside any transaction in this mode: read where the checkpoint stands now.
          const { partitions } = await consumerStatus(store, [{ name: 'alo-redeliver' }]);
          checkpointsAtDelivery.push(partitions[0]!.position);
          if (!thrown) {
            thrown = true;
            throw new Error('the broker is down');
          }
        }
      },
    });

    await catchUpConsumers(store, [consumer], { retries });

    // Delivered twice, the checkpoint before it both times.
    expect(deliveries.filter((id) => id === culprit.id)).toHaveLength(2);
    expect(checkpointsAtDelivery).toHaveLength(2);
    for (const checkpoint of checkpointsAtDelivery) expect(checkpoint).toBeLessThan(culprit.globalPosition);
    // Every event at least once; what came again is the culprit and what preceded it in its batch, nothing later.
    expect([...new Set(deliveries)].sort()).toEqual(sortedIds(appended));
    const again = deliveries.filter((id, index) => deliveries.indexOf(id) !== index);
    const positionOf = new Map(appended.map((event) => [event.id, event.globalPosition]));
    for (const id of again) expect(positionOf.get(id)!).toBeLessThanOrEqual(culprit.globalPosition);
    expect(await listDeadLetters(store, { projection: 'alo-redeliver' })).toEqual([]);
    const { head, partitions } = await consumerStatus(store, [consumer]);
    expect(partitions[0]!.position).toBe(head);
  });
});
