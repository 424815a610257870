import { describe, expect, it } from 'vitest';
import { catchUpConsumers, consumerStatus, defineConsumer, listDeadLetters, type EventStore, type RecordedEvent } from '../../src/index.js';
import { createTestStore } from '../setup/database.js';
import { createHandledTable, readHandled, recordHandled } from './support/handled-table.js';
import { appendInterleaved, sortedIds } from './support/log.js';

// At the top level, not in beforeAll: createTestStore registers the hooks that close the
// store and drop the schema, and hooks registered while another hook runs never run.
const store: EventStore = await createTestStore('consumers_tx');
const retries = { attempts: 3, minDelayMs: 1, maxDelayMs: 5 };

/** The one partition's checkpoint, and the head, as consumerStatus reports them. */
async function checkpointOf(name: string): Promise<{ position: bigint; head: bigint; eventsProcessed: number; retries: number }> {
  const { head, partitions } = await consumerStatus(store, [{ name }]);
  expect(partitions).toHaveLength(1);
  const [partition] = partitions;
  return { position: partition!.position, head, eventsProcessed: partition!.eventsProcessed, retries: partition!.retries };
}

describe("a consumer in mode 'transaction'", () => {
  // Catches: an event handled twice or skipped across batch boundaries (a checkpoint
  // moved to the wrong position: one short re-reads an event, the unique key refuses it
  // and it ends dead-lettered; one long skips it); handlers not given the batch's
  // transaction (tx undefined); events handed over out of log order; a checkpoint that
  // never reaches the head; a second run that starts over from the beginning, or from
  // the head instead of the checkpoint (the events appended in between never handled).
  it('handles every event exactly once, in log order, writing in tx; a second catch-up handles nothing; the checkpoint reaches the head', async () => {
    await createHandledTable(store, 'tx_handled');
    const appended = await appendInterleaved(store, ['txw-a', 'txw-b', 'txw-c'], 5);
    const seen: RecordedEvent[] = [];
    const consumer = defineConsumer({
      name: 'tx-writer',
      categories: ['txw'],
      batchSize: 4,
      handle: async (events, { tx, partition }) => {
        if (!tx) throw new Error('no transaction given');
        seen.push(...events);
        await recordHandled(tx, 'tx_handled', events, { partition, worker: 'test' });
      },
    });

    await catchUpConsumers(store, [consumer], { retries });

    const rows = await readHandled(store, 'tx_handled');
    expect(rows.map((row) => row.eventId)).toEqual(appended.map((event) => event.id));
    expect(rows.map((row) => row.globalPosition)).toEqual(appended.map((event) => event.globalPosition));
    expect(seen.map((event) => event.id)).toEqual(appended.map((event) => event.id));
    const after = await checkpointOf('tx-writer');
    expect(after.position).toBeGreaterThanOrEqual(appended.at(-1)!.globalPosition);
    expect(after.position).toBe(after.head);
    expect(after.eventsProcessed).toBe(15);
    expect(after.retries).toBe(0);

    // Again, with nothing new: nothing handled, nothing written, the checkpoint stays.
    await catchUpConsumers(store, [consumer], { retries });
    expect(seen).toHaveLength(15);
    expect(await readHandled(store, 'tx_handled')).toHaveLength(15);
    expect((await checkpointOf('tx-writer')).position).toBe(after.position);

    // New events: exactly those, from the checkpoint.
    const more = await appendInterleaved(store, ['txw-d', 'txw-e'], 2);
    await catchUpConsumers(store, [consumer], { retries });
    expect(seen.slice(15).map((event) => event.id)).toEqual(more.map((event) => event.id));
    expect(sortedIds(await readHandled(store, 'tx_handled'))).toEqual(sortedIds([...appended, ...more]));
    const last = await checkpointOf('tx-writer');
    expect(last.position).toBeGreaterThanOrEqual(more.at(-1)!.globalPosition);
    expect(last.eventsProcessed).toBe(15 + more.length);
  });

  // Catches: the handler's writes committed apart from the batch (its own transaction, or
  // autocommit): the failed attempt's rows would stay, the retry's inserts would hit the
  // primary key, and the events would be dead-lettered instead of handled once.
  it("rolls a failed batch's writes back with it: the retry writes each event once", async () => {
    await createHandledTable(store, 'tx_rollback');
    const appended = await appendInterleaved(store, ['txr-a', 'txr-b'], 3);
    let failures = 0;
    const consumer = defineConsumer({
      name: 'tx-rollback',
      categories: ['txr'],
      batchSize: 10,
      handle: async (events, { tx, partition }) => {
        await recordHandled(tx, 'tx_rollback', events, { partition, worker: 'test' });
        // Every row written first; then the whole batch fails, once.
        if (events.length > 0 && failures === 0) {
          failures++;
          throw new Error('failing after writing');
        }
      },
    });

    await catchUpConsumers(store, [consumer], { retries });

    expect(failures).toBe(1);
    const rows = (await readHandled(store, 'tx_rollback')).map((row) => row.eventId);
    expect(rows.sort()).toEqual(sortedIds(appended));
    expect(await listDeadLetters(store, { projection: 'tx-rollback' })).toEqual([]);
  });

  // Catches: a batch that commits after its partition went to another worker (a fence
  // without the owner check: both would handle the events); handler writes that commit
  // apart from the checkpoint (they would stay although the batch failed its fence, and
  // the redo would hit the primary key and dead-letter the events).
  it('rolls a batch back, writes and all, when its partition went to another worker meanwhile; the partition, claimed back, is redone once', async () => {
    await createHandledTable(store, 'tx_fenced');
    const appended = await appendInterleaved(store, ['txf-a', 'txf-b'], 3);
    let intruded = false;
    const deliveries: string[] = [];
    const consumer = defineConsumer({
      name: 'tx-fenced',
      categories: ['txf'],
      handle: async (events, { tx, partition }) => {
        deliveries.push(...events.map((event) => event.id));
        await recordHandled(tx, 'tx_fenced', events, { partition, worker: 'test' });
        if (!intruded && events.length > 0) {
          intruded = true;
          // Another worker claims the partition while this batch runs (what a pause longer
          // than the lease allows). Its lease has run out already, so this runner claims
          // the partition back in its next membership round.
          await store.withTransaction(
            (other) => other.query(`UPDATE "${other.schema}".consumer_partitions SET owner = 'intruder', lease_expires_at = now() WHERE consumer = $1`, ['tx-fenced']),
            { appends: false },
          );
        }
      },
    });

    await catchUpConsumers(store, [consumer], { retries, leaseTtlMs: 1000 });

    expect(intruded).toBe(true);
    // The fenced batch (all six in one) was handed over, refused at its fence, then redone.
    expect(deliveries.sort()).toEqual(sortedIds([...appended, ...appended]));
    const rows = await readHandled(store, 'tx_fenced');
    expect(rows.map((row) => row.eventId)).toEqual(appended.map((event) => event.id));
    expect(await listDeadLetters(store, { projection: 'tx-fenced' })).toEqual([]);
    const after = await checkpointOf('tx-fenced');
    expect(after.eventsProcessed).toBe(appended.length);
    expect(after.retries).toBe(0);
  });

  // Catches: a type filter that holds the checkpoint at the last matching event (catch-up
  // would time out: the head is past it), or that hands the handler other types.
  it('with eventTypes, sees only those types, and its checkpoint still moves past the others to the head', async () => {
    await appendInterleaved(store, ['txt-a'], 2, { type: 'Wanted' });
    await appendInterleaved(store, ['txt-b'], 3, { type: 'Unwanted' });
    const types = new Set<string>();
    let wanted = 0;
    const consumer = defineConsumer({
      name: 'tx-typed',
      eventTypes: ['Wanted'],
      handle: async (events) => {
        for (const event of events) types.add(event.type);
        wanted += events.length;
      },
    });

    await catchUpConsumers(store, [consumer], { retries, timeoutMs: 30_000 });

    expect([...types]).toEqual(['Wanted']);
    expect(wanted).toBe(2);
    const { position, head } = await checkpointOf('tx-typed');
    expect(position).toBe(head);
  });
});
