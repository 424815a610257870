import { describe, expect, it } from 'vitest';
import {
  catchUpConsumers,
  ConsumerStoppedError,
  consumerStatus,
  defineConsumer,
  listDeadLetters,
  partitionOfKey,
  type EventStore,
  type RecordedEvent,
} from '../../src/index.js';
import { createTestStore } from '../setup/database.js';
import { createHandledTable, readHandled, recordHandled } from './support/handled-table.js';
import { appendInterleaved, sortedIds } from './support/log.js';

const store: EventStore = await createTestStore('consumers_fail');
const retries = { attempts: 2, minDelayMs: 1, maxDelayMs: 5 };

/** A consumer of `category` that writes each event in tx, and always fails on `culprit` after writing it. */
function failingOn(name: string, category: string, table: string, culprit: string, attempts: string[]) {
  return defineConsumer({
    name,
    categories: [category],
    partitions: 2,
    batchSize: 10,
    handle: async (events: RecordedEvent[], { tx, partition }) => {
      await recordHandled(tx, table, events, { partition, worker: 'test' });
      const bad = events.find((event) => event.id === culprit);
      if (bad) {
        attempts.push(bad.id);
        throw new Error(`cannot handle ${bad.streamId}@${bad.version}`);
      }
    },
  });
}

describe('a handler that always fails on one event', () => {
  // Catches: a failing event that blocks its partition forever (no dead letter), takes
  // the events after it down with it (not isolated: the whole batch dead-lettered or
  // skipped), or leaves its own writes behind (a dead letter committed with the failed
  // handler's work); no retry before dead-lettering; the dead letter not counted or
  // not recorded with the event and the error.
  it('is retried, then dead-lettered, and the events after it are still handled', async () => {
    await createHandledTable(store, 'fail_dead');
    const appended = await appendInterleaved(store, ['fld-a', 'fld-b'], 5);
    const culprit = appended.find((event) => event.streamId === 'fld-a' && event.version === 2)!;
    const attempts: string[] = [];
    const consumer = failingOn('fail-dead', 'fld', 'fail_dead', culprit.id, attempts);

    await catchUpConsumers(store, [consumer], { retries });

    // Its own batch, then `attempts` isolated tries: at least the two the policy allows.
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    const rows = await readHandled(store, 'fail_dead');
    expect(rows.map((row) => row.eventId).sort()).toEqual(sortedIds(appended.filter((event) => event !== culprit)));
    // The events after it in its own stream, and so in its own partition, too.
    expect(rows.filter((row) => row.streamId === 'fld-a').map((row) => row.version)).toEqual([1, 3, 4, 5]);

    const status = await consumerStatus(store, [consumer]);
    expect(status.pendingDeadLetters).toEqual({ 'fail-dead': 1 });
    const culpritPartition = partitionOfKey('fld-a', 2);
    const byPartition = new Map(status.partitions.map((p) => [p.partition, p]));
    expect(byPartition.get(culpritPartition)!.deadLettered).toBe(1);
    expect(byPartition.get(culpritPartition)!.retries).toBe(1);
    expect(byPartition.get(1 - culpritPartition)?.deadLettered ?? 0).toBe(0);
    expect(status.partitions.every((p) => p.position === status.head)).toBe(true);
    expect(status.partitions.every((p) => p.stoppedError === null)).toBe(true);

    const letters = await listDeadLetters(store, { projection: 'fail-dead' });
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      eventId: culprit.id,
      streamId: 'fld-a',
      streamVersion: 2,
      globalPosition: culprit.globalPosition,
      partition: culpritPartition,
      attempts: 2,
      status: 'pending',
    });
    expect(letters[0]!.error).toContain('cannot handle fld-a@2');
  });

  // Catches: 'stop' ignored (dead-lettered and gone on), a catch-up that hangs or
  // resolves on a stopped partition, an error that does not say which consumer and
  // partition, a checkpoint moved past the culprit, and a stopped partition claimed and
  // run again by the next runner.
  it("with onFailure 'stop', stops its partition: catchUpConsumers rejects with ConsumerStoppedError naming the consumer and partition", async () => {
    await createHandledTable(store, 'fail_stop');
    const appended = await appendInterleaved(store, ['fls-a', 'fls-b'], 4);
    const culprit = appended.find((event) => event.streamId === 'fls-a' && event.version === 2)!;
    const attempts: string[] = [];
    const consumer = failingOn('fail-stop', 'fls', 'fail_stop', culprit.id, attempts);
    const culpritPartition = partitionOfKey('fls-a', 2);

    const error = await catchUpConsumers(store, [consumer], { retries, onFailure: 'stop' }).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ConsumerStoppedError);
    const stopped = error as ConsumerStoppedError;
    expect(stopped.consumer).toBe('fail-stop');
    expect(stopped.partition).toBe(culpritPartition);
    expect(stopped.reason).toContain('cannot handle fls-a@2');
    expect(stopped.message).toContain("consumer 'fail-stop' partition " + culpritPartition);

    const status = await consumerStatus(store, [consumer]);
    const partition = status.partitions.find((p) => p.partition === culpritPartition)!;
    expect(partition.stoppedError).toContain('cannot handle fls-a@2');
    expect(partition.position).toBeLessThan(culprit.globalPosition);
    expect(partition.owner).toBeNull();
    expect(status.pendingDeadLetters).toEqual({ 'fail-stop': 0 });
    // Nothing of the culprit's partition from the culprit on: the events after it wait.
    const rows = await readHandled(store, 'fail_stop');
    expect(rows.filter((row) => row.streamId === 'fls-a').map((row) => row.version)).toEqual([1]);

    // Stopped stays stopped: the next catch-up rejects again without trying the event again.
    const tried = attempts.length;
    await expect(catchUpConsumers(store, [consumer], { retries, onFailure: 'stop' })).rejects.toBeInstanceOf(ConsumerStoppedError);
    expect(attempts).toHaveLength(tried);
  });
});
