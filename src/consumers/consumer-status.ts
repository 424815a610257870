import type { Kysely } from 'kysely';
import type { EventStore } from '../event-store/event-store.js';
import type { ConsumerTables } from './consumer-tables.js';
import type { Consumer } from './define-consumer.js';

/** Where one partition of a consumer stands. */
export interface ConsumerPartitionStatus {
  consumer: string;
  generation: number;
  partition: number;
  /** Checkpoint: the global position processed up to. */
  position: bigint;
  /** The checkpoint has reached the head the owner last read (as of its last batch). */
  caughtUp: boolean;
  /** Events per second over the owner's last seconds. */
  throughput: number;
  eventsProcessed: number;
  retries: number;
  deadLettered: number;
  owner: string | null;
  heartbeatAt: Date | null;
  leaseExpiresAt: Date | null;
  /** Why the partition stopped (onFailure: 'stop'), or null. */
  stoppedError: string | null;
}

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
      const db = (tx.db as Kysely<ConsumerTables>).withSchema(tx.schema);
      const rows = await db
        .selectFrom('consumer_partitions')
        .selectAll()
        .where('consumer', 'in', names)
        .orderBy('consumer')
        .orderBy('generation')
        .orderBy('partition')
        .execute();
      const dead = await db
        .selectFrom('consumer_dead_letters')
        .select((eb) => ['consumer', eb.fn.countAll<number>().as('pending')])
        .where('consumer', 'in', names)
        .where('status', '=', 'pending')
        .groupBy('consumer')
        .execute();
      return {
        head,
        partitions: rows.map((row) => ({
          consumer: row.consumer,
          generation: row.generation,
          partition: row.partition,
          position: BigInt(row.position),
          caughtUp: row.caught_up,
          throughput: row.throughput,
          eventsProcessed: Number(row.events_processed),
          retries: Number(row.retries),
          deadLettered: Number(row.dead_lettered),
          owner: row.owner,
          heartbeatAt: row.heartbeat_at,
          leaseExpiresAt: row.lease_expires_at,
          stoppedError: row.stopped_error,
        })),
        pendingDeadLetters: Object.fromEntries(names.map((name) => [name, Number(dead.find((d) => d.consumer === name)?.pending ?? 0)])),
      };
    },
    { appends: false },
  );
}
