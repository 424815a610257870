import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { EventStore } from '../../src/index.js';
import { defineOutbox } from '../../src/outbox/define-outbox.js';
import type { OutboxMessage } from '../../src/outbox/message.js';
import { createTestStore, eventually } from '../setup/database.js';
import { orderViolations, RecordingPublisher } from './support/recording-publisher.js';
import { relays } from './support/relay-harness.js';

const store: EventStore = await createTestStore('outbox_order');
const start = relays();

/** One relay's view of the outbox: the same name (so the same partitions), its own publisher. */
function outboxFor(publisher: RecordingPublisher) {
  return defineOutbox({
    name: 'shared',
    partitions: 4,
    batchSize: 20,
    destinations: { out: { publisher } },
    routes: [{ destination: 'out', categories: ['ord'], schema: z.object({ n: z.number() }) }],
  });
}

async function owners(): Promise<string[]> {
  return store.withTransaction(async (tx) => {
    const rows = await tx.query<{ owner: string }>(`SELECT DISTINCT owner FROM "${tx.schema}".consumer_partitions WHERE consumer = 'outbox:shared' AND owner IS NOT NULL`);
    return rows.map((row) => row.owner).sort();
  });
}

/** `writers` concurrent writers, each appending `rounds` events one at a time to random keys of `keys`. */
async function writeConcurrently(keys: readonly string[], writers: number, rounds: number, from: number): Promise<void> {
  await Promise.all(
    Array.from({ length: writers }, async (_, writer) => {
      for (let round = 0; round < rounds; round++) {
        const key = keys[(writer * 7 + round * 3) % keys.length]!;
        await store.appendToStream(key, [{ type: 'Numbered', data: { n: from + writer * rounds + round } }]);
      }
    }),
  );
}

describe('two relays of one outbox', () => {
  // Catches: a key published by two relays at once or out of log order (partitions not
  // under the engine's leases, a lane published concurrently), a relay doing all the
  // work, messages lost when one relay stops and the other takes its partitions over.
  it('share the partitions; each key goes out in log order, under concurrent writers and a relay stopping', async () => {
    const all: OutboxMessage[] = [];
    const shared = { inFlight: new Map<string, number>(), concurrentKeys: new Set<string>() };
    const first = new RecordingPublisher({ sink: all, shared, delayMs: 1 });
    const second = new RecordingPublisher({ sink: all, shared, delayMs: 1 });
    const relayA = start(store, outboxFor(first), { workerId: 'relay-a' });
    const relayB = start(store, outboxFor(second), { workerId: 'relay-b' });
    await Promise.all([relayA.ready, relayB.ready]);
    await eventually(async () => expect(await owners()).toEqual(['relay-a', 'relay-b']));

    const keys = Array.from({ length: 12 }, (_, i) => `ord-${i}`);
    await writeConcurrently(keys, 6, 25, 0);
    await eventually(async () => expect(new Set(all.map((m) => m.id)).size).toBe(150));
    expect(first.received.length).toBeGreaterThan(0);
    expect(second.received.length).toBeGreaterThan(0);

    // One relay stops (gracefully: its in-flight batch finishes); the other takes over.
    await relayA.stop();
    expect(first.closed).toBe(true);
    await writeConcurrently(keys, 6, 25, 1000);
    await eventually(async () => expect(new Set(all.map((m) => m.id)).size).toBe(300), 20_000);
    expect(await owners()).toEqual(['relay-b']);

    const byKey = new Map<string, bigint[]>();
    for (const message of all) {
      let positions = byKey.get(message.key);
      if (!positions) byKey.set(message.key, (positions = []));
      positions.push(BigInt(message.position));
    }
    for (const key of keys) {
      const expected = (await store.readStream(key)).map((event) => event.globalPosition);
      expect(orderViolations(byKey.get(key) ?? [], expected), key).toEqual([]);
    }
    expect([...shared.concurrentKeys]).toEqual([]);
  });
});
