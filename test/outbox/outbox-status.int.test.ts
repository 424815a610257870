import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PublishError, type EventStore } from '../../src/index.js';
import { defineOutbox } from '../../src/outbox/define-outbox.js';
import type { OutboxMessage } from '../../src/outbox/message.js';
import { outboxStatus, type OutboxStatus } from '../../src/outbox/outbox-status.js';
import { writeMessage } from '../../src/outbox/write-message.js';
import { createTestStore, eventually } from '../setup/database.js';
import { RecordingPublisher } from './support/recording-publisher.js';
import { relays } from './support/relay-harness.js';

const store: EventStore = await createTestStore('outbox_status');
const start = relays();

/**
 * Two destinations: `orders` takes the events of category `<prefix>o` of type Placed,
 * `audit` every event of `<prefix>o` and `<prefix>a`, and messages written to it (to
 * `audit_<prefix>`: a written message goes to every outbox with a destination of its
 * name). Three partitions, so that keys of several partitions are pending at once.
 */
function outboxOf(name: string, prefix: string, publishers: { orders: RecordingPublisher; audit: RecordingPublisher }) {
  return defineOutbox({
    name,
    partitions: 3,
    destinations: { orders: { publisher: publishers.orders }, [`audit_${prefix}`]: { publisher: publishers.audit } },
    routes: [
      { destination: 'orders', eventTypes: ['Placed'], categories: [`${prefix}o`], schema: z.object({ n: z.number() }) },
      { destination: `audit_${prefix}`, categories: [`${prefix}o`, `${prefix}a`], schema: z.object({ n: z.number() }) },
    ],
  });
}

const event = (type: string, n: number) => ({ type, data: { n } });
const destination = (status: OutboxStatus, name: string) => status.destinations.find((d) => d.destination === name || d.destination.startsWith(`${name}_`))!;
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

describe('outboxStatus', () => {
  // Catches: pending counted from the wrong checkpoint (or not at all before the relay
  // ever ran), events of other categories or types counted, written messages of another
  // destination counted, a partition's events counted in every partition.
  it('counts, before any relay ran, what each destination will publish', async () => {
    const publishers = { orders: new RecordingPublisher(), audit: new RecordingPublisher() };
    const outbox = outboxOf('never-ran', 'snr', publishers);
    await store.appendToStream('snro-1', [event('Placed', 1), event('Shipped', 2)]);
    await store.appendToStream('snro-2', [event('Placed', 1)]);
    await store.appendToStream('snra-1', [event('Noted', 1)]);
    await store.appendToStream('snrx-1', [event('Placed', 1)]);
    await writeMessage(store, { destination: 'audit_snr', key: 'snro-1', type: 'audit.note', payload: { n: 9 } });
    await writeMessage(store, { destination: 'elsewhere', key: 'snro-1', type: 'audit.note', payload: { n: 9 } });

    const [status] = await eventually(async () => {
      const result = await outboxStatus(store, [outbox]);
      expect(destination(result[0]!, 'audit').pending).toBe(5);
      return result;
    });
    expect(status).toMatchObject({ outbox: 'never-ran', consumer: 'outbox:never-ran' });
    expect(destination(status!, 'orders')).toMatchObject({ publisher: 'recording', pending: 2, parked: 0, held: 0 });
    expect(destination(status!, 'orders').oldestPendingAgeMs).toBeGreaterThanOrEqual(0);
    expect(status!.partitions.map((p) => ({ ...p, pending: undefined }))).toEqual(
      [0, 1, 2].map((partition) => ({ partition, owner: null, position: 0n, pending: undefined, publishRate: null, lastError: null })),
    );
    // Every event giving a message counted once, in its key's partition only.
    expect(sum(status!.partitions.map((p) => p.pending))).toBe(5);
  });

  // Catches: a caught-up relay still reporting its backlog, owners or checkpoints not
  // read from the relay's partitions, parked and held messages not counted per destination.
  it('reports a running relay caught up, with the parked message and those held behind it', async () => {
    const refused = (message: OutboxMessage) => new PublishError({ destination: message.destination, messageId: message.id }, 'too large', { retryable: false });
    const publishers = {
      orders: new RecordingPublisher({ fail: (message) => (message.key === 'srpo-bad' && (message.payload as { n: number }).n === 1 ? refused(message) : undefined) }),
      audit: new RecordingPublisher(),
    };
    const outbox = outboxOf('running', 'srp', publishers);
    await store.appendToStream('srpo-bad', [event('Placed', 1), event('Placed', 2), event('Placed', 3)]);
    const { lastGlobalPosition } = await store.appendToStream('srpo-good', [event('Placed', 1)]);
    const relay = start(store, outbox);
    await relay.ready;

    const [status] = await eventually(async () => {
      const result = await outboxStatus(store, [outbox]);
      expect(destination(result[0]!, 'orders')).toMatchObject({ pending: 0, parked: 1, held: 2 });
      expect(destination(result[0]!, 'audit').pending).toBe(0);
      for (const partition of result[0]!.partitions) expect(partition.position).toBeGreaterThanOrEqual(lastGlobalPosition);
      return result;
    }, 20_000);
    expect(destination(status!, 'orders').oldestPendingAgeMs).toBeNull();
    expect(destination(status!, 'audit')).toMatchObject({ parked: 0, held: 0 });
    expect(publishers.audit.received).toHaveLength(4);
    for (const partition of status!.partitions) {
      expect(partition).toMatchObject({ owner: relay.workerId, pending: 0, lastError: null });
      expect(typeof partition.publishRate).toBe('number');
    }
  });

  // Catches: a stopped relay's backlog not counted from its checkpoints, an owner still
  // shown after its leases were released, the oldest age missing.
  it('counts the backlog of a stopped relay from its checkpoints', async () => {
    const publishers = { orders: new RecordingPublisher(), audit: new RecordingPublisher() };
    const outbox = outboxOf('stopped', 'sst', publishers);
    await store.appendToStream('ssto-1', [event('Placed', 1)]);
    const relay = start(store, outbox);
    await eventually(async () => expect(publishers.audit.received).toHaveLength(1));
    await eventually(async () => expect(destination((await outboxStatus(store, [outbox]))[0]!, 'audit').pending).toBe(0));
    await relay.stop();

    await store.appendToStream('ssto-1', [event('Placed', 2), event('Shipped', 3)]);
    await store.appendToStream('ssto-2', [event('Placed', 1)]);
    await store.appendToStream('ssta-9', [event('Noted', 1)]);

    const [status] = await eventually(async () => {
      const result = await outboxStatus(store, [outbox]);
      expect(destination(result[0]!, 'audit').pending).toBe(4);
      return result;
    });
    expect(destination(status!, 'orders')).toMatchObject({ pending: 2, parked: 0, held: 0 });
    expect(destination(status!, 'orders').oldestPendingAgeMs).toBeGreaterThanOrEqual(0);
    expect(sum(status!.partitions.map((p) => p.pending))).toBe(4);
    for (const partition of status!.partitions) expect(partition.owner).toBeNull();
    expect(status!.head).toBeGreaterThan(0n);
  });

  it('returns nothing for no outboxes', async () => {
    expect(await outboxStatus(store, [])).toEqual([]);
  });
});
