import { partitionOfKey } from '../consumers/partition-key.js';
import { readConsumerPartitions } from '../consumers/partitions.js';
import type { EventStore, EventStoreTransaction, RecordedEvent } from '../event-store/event-store.js';
import type { Outbox } from './define-outbox.js';
import { parkedTable } from './parked-table.js';
import { orderingKeyOf, routeEvent } from './routing.js';

export interface OutboxDestinationStatus {
  destination: string;
  /** The publisher's kind (`nats`, `rabbitmq`, `webhook`, ...). */
  publisher: string;
  /** Messages of this destination committed in the log but not yet past their partition's checkpoint (not published or parked yet). */
  pending: number;
  /** Age in ms of the oldest of those, null when none. */
  oldestPendingAgeMs: number | null;
  /** Parked messages (status 'parked') and held ones behind them ('held'). */
  parked: number;
  held: number;
}

export interface OutboxPartitionStatus {
  partition: number;
  /** The worker holding the lease, null when none. */
  owner: string | null;
  /** Checkpoint (global position) as bigint. */
  position: bigint;
  /** Events of the outbox past the checkpoint, over all destinations. */
  pending: number;
  /** Messages per second published by this partition recently, from the consumer engine's own throughput figure if it has one; null otherwise. */
  publishRate: number | null;
  /** The last error of a failing batch, as the engine records it (null when healthy). */
  lastError: string | null;
}

export interface OutboxStatus {
  outbox: string;
  /** The consumer name the relay runs under (`outbox:<name>`). */
  consumer: string;
  head: bigint;
  destinations: OutboxDestinationStatus[];
  partitions: OutboxPartitionStatus[];
}

/**
 * Events read past one partition's checkpoint, at most: a backlog larger than this is
 * reported as this many (a floor, and a partition that far behind is the news). One
 * bounded read per partition keeps a status call cheap whatever the backlog.
 */
export const pendingReadLimit = 10_000;

/**
 * Where each outbox stands: per destination, its pending messages (committed, not yet
 * past their partition's checkpoint) and the age of the oldest, its parked and held
 * messages; per partition of the relay, its checkpoint, owner, rate and last error.
 * One short read-only transaction.
 *
 * Pending is counted by reading the log after each partition's checkpoint (one bounded
 * read per distinct checkpoint, up to `pendingReadLimit` events) and routing each event as the
 * relay does: the partition is a hash of the ordering key, which no index can filter on.
 * A relay that never ran has no partitions yet: its whole backlog counts, from the start
 * of the log (or none, for `startAt: 'now'`).
 *
 * @example
 * ```ts
 * for (const { outbox, destinations } of await outboxStatus(store, [outbox])) {
 *   for (const d of destinations) console.log(outbox, d.destination, d.pending, d.parked);
 * }
 * ```
 */
export async function outboxStatus(store: EventStore, outboxes: readonly Outbox[]): Promise<OutboxStatus[]> {
  if (outboxes.length === 0) return [];
  return store.withTransaction(
    async (tx) => {
      const head = await tx.headPosition();
      const reports = await readConsumerPartitions(
        tx,
        outboxes.map((outbox) => outbox.consumerName),
      );
      const parked = await countParked(tx, outboxes);
      const now = Date.now();
      const statuses: OutboxStatus[] = [];
      for (const outbox of outboxes) {
        const rows = reports.filter((report) => report.consumer === outbox.consumerName && report.generation === 1);
        // Not run yet: its partitions will start at the beginning (or the head).
        const checkpoints =
          rows.length > 0
            ? rows.map((row) => ({ partition: row.partition, position: row.position, row }))
            : Array.from({ length: outbox.partitions }, (_, partition) => ({ partition, position: outbox.startAt === 'now' ? head : 0n, row: undefined }));
        const pending = new Map<string, { count: number; oldest: Date | null }>();
        const partitions: OutboxPartitionStatus[] = [];
        // Partitions at one checkpoint (all of them, when caught up) share one read.
        const reads = new Map<bigint, Promise<RecordedEvent[]>>();
        for (const { partition, position, row } of checkpoints) {
          if (!reads.has(position)) reads.set(position, readAfter(tx, outbox, position));
          const count = countPartition(outbox, partition, checkpoints.length, await reads.get(position)!, pending);
          partitions.push({
            partition,
            owner: row?.owner ?? null,
            position,
            pending: count,
            publishRate: row ? row.throughput : null,
            lastError: row?.stoppedError ?? null,
          });
        }
        const destinations = [...outbox.destinations].map(([destination, { publisher }]): OutboxDestinationStatus => {
          const mine = pending.get(destination);
          const counts = parked.get(`${outbox.name}\n${destination}`);
          return {
            destination,
            publisher: publisher.kind,
            pending: mine?.count ?? 0,
            oldestPendingAgeMs: mine?.oldest ? Math.max(0, now - mine.oldest.getTime()) : null,
            parked: counts?.parked ?? 0,
            held: counts?.held ?? 0,
          };
        });
        statuses.push({ outbox: outbox.name, consumer: outbox.consumerName, head, destinations, partitions });
      }
      return statuses;
    },
    { appends: false },
  );
}

/** The events the relay reads past `after`: one bounded read. */
function readAfter(tx: EventStoreTransaction, outbox: Outbox, after: bigint): Promise<RecordedEvent[]> {
  const { eventTypes, categories } = outbox.filter;
  return tx.readAll({
    after,
    limit: pendingReadLimit,
    ...(eventTypes ? { types: [...eventTypes] } : {}),
    ...(categories ? { categories: [...categories] } : {}),
  });
}

/**
 * The partition's events among `events` (read past its checkpoint), routed as the relay
 * routes them: returns how many give at least one message, and adds each message to its
 * destination's count in `pending`.
 */
function countPartition(
  outbox: Outbox,
  partition: number,
  partitionCount: number,
  events: readonly RecordedEvent[],
  pending: Map<string, { count: number; oldest: Date | null }>,
): number {
  let count = 0;
  for (const event of events) {
    if (partitionCount > 1 && partitionOfKey(orderingKeyOf(event), partitionCount) !== partition) continue;
    // Routed as the relay does (a payload failing its schema is still a message: it will be parked).
    const routed = routeEvent(outbox, event);
    if (routed.length === 0) continue;
    count++;
    for (const { destination } of routed) {
      const entry = pending.get(destination) ?? { count: 0, oldest: null };
      entry.count++;
      if (entry.oldest === null || event.recordedAt < entry.oldest) entry.oldest = event.recordedAt;
      pending.set(destination, entry);
    }
  }
  return count;
}

/** Parked and held messages per outbox and destination, in one statement. */
async function countParked(tx: EventStoreTransaction, outboxes: readonly Outbox[]): Promise<Map<string, { parked: number; held: number }>> {
  const rows = await parkedTable(tx)
    .selectFrom('outbox_parked_messages')
    .select(['outbox', 'destination', 'status'])
    .select((eb) => eb.fn.countAll<string | number | bigint>().as('count'))
    .where(
      'outbox',
      'in',
      outboxes.map((outbox) => outbox.name),
    )
    .where('status', 'in', ['parked', 'held'])
    .groupBy(['outbox', 'destination', 'status'])
    .execute();
  const counts = new Map<string, { parked: number; held: number }>();
  for (const row of rows) {
    const key = `${row.outbox}\n${row.destination}`;
    const entry = counts.get(key) ?? { parked: 0, held: 0 };
    if (row.status === 'parked') entry.parked = Number(row.count);
    else entry.held = Number(row.count);
    counts.set(key, entry);
  }
  return counts;
}
