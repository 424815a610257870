import { describe, expect, it } from 'vitest';
import { catchUpConsumers, consumerStatus, defineConsumer, type EventStore } from '../../src/index.js';
import { createTestStore } from '../setup/database.js';
import { appendInterleaved, sortedIds } from './support/log.js';

const store: EventStore = await createTestStore('consumers_start');

/** A consumer of category `now` that remembers the ids it was given. */
function recording(name: string, startAt: 'beginning' | 'now') {
  const seen: string[] = [];
  const consumer = defineConsumer({ name, categories: ['now'], startAt, partitions: 2, handle: async (events) => void seen.push(...events.map((event) => event.id)) });
  return { consumer, seen };
}

describe("startAt 'now'", () => {
  // Catches: 'now' ignored (the history handled: the new consumer floods its receiver
  // with the past); 'now' taken at each start rather than once when the consumer is new
  // (the events appended while no runner ran would be skipped); the checkpoint at the
  // head set for one partition only.
  it('skips the events appended before the consumer was set up, and handles every one after, also across restarts', async () => {
    const before = await appendInterleaved(store, ['now-a', 'now-b', 'now-c'], 3);
    const late = recording('start-now', 'now');
    // The same log read from the beginning: the events before are there to be seen.
    const early = recording('start-beginning', 'beginning');

    await catchUpConsumers(store, [late.consumer, early.consumer]);
    expect(late.seen).toEqual([]);
    expect(early.seen.sort()).toEqual(sortedIds(before));
    const { partitions } = await consumerStatus(store, [late.consumer]);
    expect(partitions).toHaveLength(2);
    for (const p of partitions) expect(p.position).toBeGreaterThanOrEqual(before.at(-1)!.globalPosition);

    const after = await appendInterleaved(store, ['now-d', 'now-e'], 2);
    await catchUpConsumers(store, [late.consumer]);
    expect(late.seen.sort()).toEqual(sortedIds(after));

    // Appended while no runner runs it: a restart goes on from its checkpoint, not from the head.
    const whileDown = await appendInterleaved(store, ['now-f'], 2);
    const restarted = recording('start-now', 'now');
    await catchUpConsumers(store, [restarted.consumer]);
    expect(restarted.seen.sort()).toEqual(sortedIds(whileDown));
  });
});
