import type { EventStore } from '../event-store/event-store.js';
import { countPendingDeadLetters } from './dead-letters.js';
import { readConsumerPartitions, type PartitionReport } from './partitions.js';
import type { Consumer } from './define-consumer.js';

/** Where one partition of a consumer stands. */
export type ConsumerPartitionStatus = PartitionReport;

export interface ConsumerStatus {
  /** The global log's head: the newest position a reader can see. */
  head: bigint;
  partitions: ConsumerPartitionStatus[];
  /** Pending dead letters per consumer. */
  pendingDeadLetters: Record<string, number>;
}

/**
 * Where the consumers stand: per partition, the checkpoint against the head, throughput,
 * retries, dead letters, owner and heartbeat; and their pending dead letters.
 *
 * @example
 * ```ts
 * const { head, partitions } = await consumerStatus(store, [orderProcess]);
 * const behind = partitions.filter((p) => p.position < head);
 * ```
 */
export async function consumerStatus(store: EventStore, consumers: readonly Pick<Consumer, 'name'>[]): Promise<ConsumerStatus> {
  const names = consumers.map((consumer) => consumer.name);
  return store.withTransaction(
    async (tx) => {
      const head = await tx.headPosition();
      if (names.length === 0) return { head, partitions: [], pendingDeadLetters: {} };
      const partitions = await readConsumerPartitions(tx, names);
      const pendingDeadLetters: Record<string, number> = {};
      for (const name of names) pendingDeadLetters[name] = await countPendingDeadLetters(tx, name);
      return { head, partitions, pendingDeadLetters };
    },
    { appends: false },
  );
}
