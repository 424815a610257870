import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ValidationError, type EventStore } from '../../src/index.js';
import { defineOutbox } from '../../src/outbox/define-outbox.js';
import { createTestStore, eventually } from '../setup/database.js';
import { RecordingPublisher } from './support/recording-publisher.js';
import { relays } from './support/relay-harness.js';

const store: EventStore = await createTestStore('outbox_life');
const start = relays();

function outboxOf(name: string, category: string, publisher: RecordingPublisher, partitions = 1) {
  return defineOutbox({ name, partitions, destinations: { out: { publisher } }, routes: [{ destination: 'out', categories: [category], schema: z.object({ n: z.number() }) }] });
}

async function checkpoint(name: string): Promise<bigint> {
  const [row] = await store.withTransaction((tx) => tx.query<{ position: string }>(`SELECT position::text FROM "${tx.schema}".consumer_partitions WHERE consumer = $1`, [`outbox:${name}`]));
  return BigInt(row!.position);
}

describe('stopping a relay', () => {
  // Catches: a stop that abandons a publish in flight (the broker may have it, the
  // relay would not know), or leaves the batch's checkpoint behind although every
  // message went out; publishers left open.
  it('finishes the publishes in flight and the batch, moves the checkpoint, then closes the publishers', async () => {
    let entered!: () => void;
    const inFlight = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const publisher = new RecordingPublisher({
      before: async (message) => {
        if ((message.payload as { n: number }).n !== 1) return;
        entered();
        await released;
      },
    });
    await store.appendToStream('lfs-1', [1, 2, 3].map((n) => ({ type: 'Numbered', data: { n } })));
    const relay = start(store, outboxOf('graceful', 'lfs', publisher));
    await inFlight;

    const stopped = relay.stop();
    release();
    await stopped;
    expect(publisher.received.map((m) => (m.payload as { n: number }).n)).toEqual([1, 2, 3]);
    expect(publisher.closed).toBe(true);
    expect(await checkpoint('graceful')).toBeGreaterThanOrEqual((await store.readStream('lfs-1'))[2]!.globalPosition);
  });

  // Catches: a stop that waits for a broker that is down (it would never return), or
  // that moves the checkpoint past messages that did not go out.
  it('during an outage, ends the failing batch without moving its checkpoint: the next relay sends it all', async () => {
    const down = new RecordingPublisher({ fail: () => new Error('ECONNREFUSED') });
    await store.appendToStream('lfo-1', [1, 2].map((n) => ({ type: 'Numbered', data: { n } })));
    const relay = start(store, outboxOf('outage-stop', 'lfo', down));
    await eventually(async () => expect(Math.max(0, ...down.attempts.values())).toBeGreaterThanOrEqual(2));
    await relay.stop();
    expect(down.received).toEqual([]);
    expect(await checkpoint('outage-stop')).toBe(0n);

    const up = new RecordingPublisher();
    start(store, outboxOf('outage-stop', 'lfo', up));
    await eventually(async () => expect(up.received.map((m) => (m.payload as { n: number }).n)).toEqual([1, 2]));
  });

  // Catches: a partition count changed under keys whose messages are held in a partition.
  it('refuses another partition count for an outbox that has run', async () => {
    const relay = start(store, outboxOf('counted', 'lfc', new RecordingPublisher(), 2));
    await relay.ready;
    await relay.stop();
    const again = start(store, outboxOf('counted', 'lfc', new RecordingPublisher(), 3));
    await expect(again.ready).rejects.toThrow(ValidationError);
    await expect(again.ready).rejects.toThrow(/outbox\.partitions/);
  });
});
