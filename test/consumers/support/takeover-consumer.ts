/**
 * The consumer of the takeover test (takeover.int.test.ts), defined once for both of its
 * runners: the child process that is killed (consumer-script.ts) and the runner in the
 * test process that takes over. No vitest here: the child process imports it.
 *
 * Mode `transaction`: each batch writes its events into a handled table (handled-table.ts,
 * one row per event id) in the batch's transaction, so an event handled twice fails
 * its batch on the primary key instead of passing unseen.
 */
import { defineConsumer, type Consumer, type RecordedEvent } from 'annals';
import { recordHandled } from './handled-table.js';

export const takeoverPartitions = 4;

export interface TakeoverConsumerOptions {
  name: string;
  category: string;
  table: string;
  /** Written into each row: which runner handled the event. */
  worker: string;
  /**
   * Called after a batch's rows are written and before it commits, with the events of a
   * batch that holds one whose data says `hold: true`: the killed process waits there,
   * its transaction open, to be killed mid-batch.
   */
  onHold?: (events: readonly RecordedEvent[], partition: number) => Promise<void>;
}

export function takeoverConsumer(options: TakeoverConsumerOptions): Consumer {
  return defineConsumer<'transaction'>({
    name: options.name,
    categories: [options.category],
    partitions: takeoverPartitions,
    batchSize: 3,
    handle: async (events, { tx, partition }) => {
      await recordHandled(tx, options.table, events, { partition, worker: options.worker });
      if (options.onHold && events.some((event) => (event.data as { hold?: boolean }).hold === true)) await options.onHold(events, partition);
    },
  });
}
