import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PublishError, ValidationError, type EventStore, type RecordedEvent } from '../../src/index.js';
import { defineOutbox } from '../../src/outbox/define-outbox.js';
import type { OutboxMessage } from '../../src/outbox/message.js';
import { listParkedMessages, retryParkedMessage, skipParkedMessage } from '../../src/outbox/parked-messages.js';
import { createTestStore, eventually } from '../setup/database.js';
import { RecordingPublisher } from './support/recording-publisher.js';
import { relays } from './support/relay-harness.js';

const store: EventStore = await createTestStore('outbox_parking');
const start = relays();

/** Every event of `category` to `out`, its data as the payload; two partitions, so keys of both share batches and not. */
function outboxOf(name: string, category: string, publisher: RecordingPublisher) {
  return defineOutbox({
    name,
    partitions: 2,
    destinations: { out: { publisher } },
    routes: [{ destination: 'out', categories: [category], schema: z.object({ n: z.number() }) }],
  });
}

/** Appends `count` events `{ n }` to `streamId`, numbered from `from`. */
async function append(streamId: string, count: number, from = 1): Promise<RecordedEvent[]> {
  await store.appendToStream(streamId, Array.from({ length: count }, (_, i) => ({ type: 'Numbered', data: { n: from + i } })));
  return (await store.readStream(streamId)).slice(from - 1);
}

const numbers = (received: readonly OutboxMessage[], key: string) => received.filter((m) => m.key === key).map((m) => (m.payload as { n: number }).n);
const refused = (message: OutboxMessage, reason = 'too large') => new PublishError({ destination: message.destination, messageId: message.id }, reason, { retryable: false });

describe('a relay whose broker fails', () => {
  // Catches: a retryable failure parked or dropped at once, a retry that moves on to the
  // next message of the key before this one is acknowledged, a checkpoint moved past a
  // message not yet acknowledged.
  it('retries a retryable failure with backoff until it goes through, in order', async () => {
    const publisher = new RecordingPublisher({ fail: (message, attempt) => (attempt < 3 ? new Error(`flaky ${message.id}`) : undefined) });
    await append('pkr-1', 3);
    await append('pkr-2', 2);
    start(store, outboxOf('retried', 'pkr', publisher));

    await eventually(async () => expect(publisher.received).toHaveLength(5));
    expect(numbers(publisher.received, 'pkr-1')).toEqual([1, 2, 3]);
    expect(numbers(publisher.received, 'pkr-2')).toEqual([1, 2]);
    expect([...publisher.attempts.values()]).toEqual([3, 3, 3, 3, 3]);
    expect(publisher.concurrentKeys.size).toBe(0);
    expect(await listParkedMessages(store, outboxOf('retried', 'pkr', publisher), { status: 'all' })).toEqual([]);
  });

  // Catches: an outage that parks the whole backlog after N attempts (every key would then
  // wait for a person), messages lost while the broker is down, order lost when it returns.
  it('parks nothing while the broker is down, and drains the backlog in order when it returns', async () => {
    let down = true;
    const publisher = new RecordingPublisher({ fail: () => (down ? new Error('ECONNREFUSED') : undefined) });
    await append('pko-1', 4);
    await append('pko-2', 4);
    const outbox = outboxOf('outage', 'pko', publisher);
    start(store, outbox);

    // Well past the 3 attempts after which a message failing alone would be parked.
    await eventually(async () => expect(Math.max(...publisher.attempts.values())).toBeGreaterThanOrEqual(6));
    await append('pko-1', 2, 5);
    down = false;

    await eventually(async () => expect(publisher.received).toHaveLength(10));
    expect(numbers(publisher.received, 'pko-1')).toEqual([1, 2, 3, 4, 5, 6]);
    expect(numbers(publisher.received, 'pko-2')).toEqual([1, 2, 3, 4]);
    expect(await listParkedMessages(store, outbox, { status: 'all' })).toEqual([]);
  });

  // Catches: a poison message that stops every key, or is skipped (its key's later
  // messages overtaking it), or holds its key only within one batch; a retry that
  // publishes out of order or leaves the key held; later messages not flowing again.
  it('parks a refused message, holds only its key, and a retry releases the key in order', async () => {
    let poisoned = true;
    const publisher = new RecordingPublisher({ fail: (message) => (poisoned && message.key === 'pkp-bad' && (message.payload as { n: number }).n === 2 ? refused(message) : undefined) });
    const outbox = outboxOf('poison', 'pkp', publisher);
    await append('pkp-bad', 4);
    await append('pkp-good', 3);
    start(store, outbox);

    await eventually(async () => expect(numbers(publisher.received, 'pkp-good')).toEqual([1, 2, 3]));
    await eventually(async () => expect((await listParkedMessages(store, outbox)).map((row) => row.status)).toEqual(['parked', 'held', 'held']));
    // Later messages: the good key's go out; the bad key's wait behind its parked one.
    await append('pkp-bad', 1, 5);
    await append('pkp-good', 1, 4);
    await eventually(async () => expect(numbers(publisher.received, 'pkp-good')).toEqual([1, 2, 3, 4]));
    const parked = await eventually(async () => {
      const rows = await listParkedMessages(store, outbox);
      expect(rows.map((row) => row.status)).toEqual(['parked', 'held', 'held', 'held']);
      return rows;
    });
    expect(parked[0]).toMatchObject({ key: 'pkp-bad', attempts: 1, error: expect.stringContaining('too large') });
    expect(numbers(publisher.received, 'pkp-bad')).toEqual([1]);

    // A retry that fails again keeps the key held, with the new error.
    expect(await retryParkedMessage(store, outbox, parked[0]!.id)).toEqual({ published: 0, failed: { id: parked[0]!.id, error: expect.stringContaining('too large') } });
    expect((await listParkedMessages(store, outbox))[0]).toMatchObject({ status: 'parked', attempts: 2 });

    poisoned = false;
    // Any message of the held key retries the key from its parked one.
    expect(await retryParkedMessage(store, outbox, parked[2]!.id)).toEqual({ published: 4 });
    expect(numbers(publisher.received, 'pkp-bad')).toEqual([1, 2, 3, 4, 5]);
    expect(await listParkedMessages(store, outbox)).toEqual([]);
    expect((await listParkedMessages(store, outbox, { status: 'published' })).map((row) => row.globalPosition)).toEqual(parked.map((row) => row.globalPosition));

    // Released: the relay sends the key's next messages itself.
    await append('pkp-bad', 1, 6);
    await eventually(async () => expect(numbers(publisher.received, 'pkp-bad')).toEqual([1, 2, 3, 4, 5, 6]));
    expect(publisher.concurrentKeys.size).toBe(0);
  });

  // Catches: a park missed by the next batch, whose parked lanes were looked up while
  // this batch was still publishing (the relay reads ahead): the key's next message
  // would go out past the parked one.
  it('holds a key parked in one batch in the next one, read ahead while it published', async () => {
    const publisher = new RecordingPublisher({
      delayMs: 20,
      fail: (message) => (message.key === 'pka-bad' && (message.payload as { n: number }).n === 2 ? refused(message) : undefined),
    });
    const outbox = defineOutbox({
      name: 'ahead',
      partitions: 1,
      batchSize: 4,
      destinations: { out: { publisher } },
      routes: [{ destination: 'out', categories: ['pka'], schema: z.object({ n: z.number() }) }],
    });
    // First batch: bad 1, good 1, good 2, bad 2 (refused). Second: good 3, bad 3, good 4, good 5.
    await append('pka-bad', 1, 1);
    await append('pka-good', 2, 1);
    await append('pka-bad', 1, 2);
    await append('pka-good', 1, 3);
    await append('pka-bad', 1, 3);
    await append('pka-good', 2, 4);
    start(store, outbox);

    await eventually(async () => expect(numbers(publisher.received, 'pka-good')).toEqual([1, 2, 3, 4, 5]));
    await eventually(async () => expect((await listParkedMessages(store, outbox)).map((row) => row.status)).toEqual(['parked', 'held']));
    expect(numbers(publisher.received, 'pka-bad')).toEqual([1]);
  });

  // Catches: a retry racing the relay on the key it releases: the relay's new message
  // published before the retried ones (or at the same time), or held behind a key the
  // retry has just released and so left parked with nothing in front of it.
  it('keeps the key in order when a retry races the relay sending the key\'s new messages', async () => {
    let poisoned = true;
    const publisher = new RecordingPublisher({ delayMs: 2, fail: (message) => (poisoned && (message.payload as { n: number }).n === 1 ? refused(message) : undefined) });
    const outbox = outboxOf('race', 'pkq', publisher);
    await append('pkq-1', 3);
    start(store, outbox);
    const [head] = await eventually(async () => {
      const rows = await listParkedMessages(store, outbox);
      expect(rows).toHaveLength(3);
      return rows;
    });

    poisoned = false;
    const appending = (async () => {
      for (let n = 4; n <= 20; n++) await append('pkq-1', 1, n);
    })();
    const retried = await retryParkedMessage(store, outbox, head!.id);
    await appending;

    await eventually(async () => expect(numbers(publisher.received, 'pkq-1')).toEqual(Array.from({ length: 20 }, (_, i) => i + 1)));
    expect(retried.published).toBeGreaterThanOrEqual(3);
    expect(await listParkedMessages(store, outbox)).toEqual([]);
    expect(publisher.concurrentKeys.size).toBe(0);
  });

  // Catches: a batch run again after a crash (the checkpoint had not moved past the park)
  // that parks a message twice, publishes a parked or held one, or holds the messages
  // that came before the parked one (they went out, and go out again, in order).
  it('runs a batch again after a crash without publishing what is parked or held', async () => {
    const publisher = new RecordingPublisher({ fail: (message) => ((message.payload as { n: number }).n === 2 ? refused(message) : undefined) });
    const outbox = outboxOf('replay', 'pkx', publisher);
    await append('pkx-1', 4);
    const relay = start(store, outbox);
    await eventually(async () => expect((await listParkedMessages(store, outbox)).map((row) => row.status)).toEqual(['parked', 'held', 'held']));
    await relay.stop();
    // As if the relay had died between the park and the checkpoint.
    await store.withTransaction((tx) => tx.query(`UPDATE "${tx.schema}".consumer_partitions SET position = 0 WHERE consumer = 'outbox:replay'`));

    const again = new RecordingPublisher();
    start(store, outboxOf('replay', 'pkx', again));
    await append('pkx-1', 1, 5);
    await eventually(async () => expect((await listParkedMessages(store, outbox)).map((row) => row.status)).toEqual(['parked', 'held', 'held', 'held']));
    await eventually(async () => expect(numbers(again.received, 'pkx-1')).toEqual([1]));
    expect((await listParkedMessages(store, outbox, { status: 'all' })).map((row) => row.attempts)).toEqual([1, 0, 0, 0]);
  });

  // Catches: a message that fails the same way forever blocking its key's partition
  // while the broker takes other messages (it must be parked after the attempts).
  it('parks a message that keeps failing after the last attempt, while the broker takes the others', async () => {
    let badTried!: () => void;
    const tried = new Promise<void>((resolve) => (badTried = resolve));
    let failures = 0;
    const publisher = new RecordingPublisher({
      // The other keys go through only after the bad one failed twice, during its last
      // retry (of 3): the broker is up now, and this message is the problem.
      before: async (message) => (message.key === 'pkn-bad' ? undefined : tried),
      fail: (message) => {
        if (message.key !== 'pkn-bad') return undefined;
        if (++failures === 2) badTried();
        return new Error('always times out');
      },
    });
    const outbox = defineOutbox({
      name: 'keeps-failing',
      destinations: { out: { publisher } },
      routes: [{ destination: 'out', categories: ['pkn'], schema: z.object({ n: z.number() }) }],
    });
    await append('pkn-bad', 2);
    await append('pkn-ok', 2);
    start(store, outbox);

    const parked = await eventually(async () => {
      const rows = await listParkedMessages(store, outbox);
      expect(rows.map((row) => [row.key, row.status])).toEqual([
        ['pkn-bad', 'parked'],
        ['pkn-bad', 'held'],
      ]);
      return rows;
    });
    // At least the 3 attempts; more when the others went through only after the third.
    expect(parked[0]!.attempts).toBeGreaterThanOrEqual(3);
    // Publishes in flight when the failures began are no sign of health: the others went
    // through after the second failure, so nothing parked it before its third attempt.
    expect(failures).toBeGreaterThanOrEqual(3);
    expect(parked[0]!.error).toBe('Error: always times out');
    expect(numbers(publisher.received, 'pkn-ok')).toEqual([1, 2]);
  });

  // Catches: a skip that publishes the skipped message, leaves the key held, or releases
  // the key out of order; skip or retry of a resolved or unknown message.
  it('skips a parked message: the ones held behind it go out in order, and the key flows again', async () => {
    const publisher = new RecordingPublisher({ fail: (message) => ((message.payload as { n: number }).n === 1 ? refused(message) : undefined) });
    const outbox = outboxOf('skip', 'pks', publisher);
    await append('pks-1', 3);
    start(store, outbox);
    const parked = await eventually(async () => {
      const rows = await listParkedMessages(store, outbox);
      expect(rows.map((row) => row.status)).toEqual(['parked', 'held', 'held']);
      return rows;
    });

    expect(await skipParkedMessage(store, outbox, parked[0]!.id)).toEqual({ published: 2 });
    expect(numbers(publisher.received, 'pks-1')).toEqual([2, 3]);
    expect((await listParkedMessages(store, outbox, { status: 'all' })).map((row) => row.status)).toEqual(['skipped', 'published', 'published']);
    await append('pks-1', 1, 4);
    await eventually(async () => expect(numbers(publisher.received, 'pks-1')).toEqual([2, 3, 4]));

    await expect(retryParkedMessage(store, outbox, parked[0]!.id)).rejects.toThrow(ValidationError);
    await expect(skipParkedMessage(store, outbox, parked[1]!.id)).rejects.toThrow(/already published/);
    await expect(retryParkedMessage(store, outbox, '999999')).rejects.toThrow(/no parked message 999999/);
    await expect(retryParkedMessage(store, outbox, 'x')).rejects.toThrow(ValidationError);
  });
});
