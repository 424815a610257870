import type { EventStoreTransaction, LogPartition, RecordedEvent } from '../event-store/event-store.js';

/**
 * Whether a partition behind a position has anything of its own to process up to it.
 *
 * Every partition of a consumer reads the same events (its types and categories) and
 * keeps those of its key, and a worker moves a checkpoint past the others' events only
 * when it next runs. So a partition whose checkpoint is below a position may have nothing
 * of its own up to it: the position is reached for it already. This reads the log after
 * the checkpoint, through the store's bounded reads (`readAll`), and tells how far the
 * partition is clear.
 */

/** What the partition holds after its checkpoint: its first own event, or none up to `clearUntil`. */
export type PartitionScan = { firstOwn: bigint } | { clearUntil: bigint };

export interface ScanTarget {
  /** The partition's checkpoint. */
  after: bigint;
  /** How far the caller needs to know (the highest position waited for). */
  until: bigint;
  /** The log's head, read earlier in the same transaction: readAll returns everything up to it (docs/global-log.md). */
  head: bigint;
  types: readonly string[] | null;
  categories: readonly string[] | null;
  /** When Postgres can tell the partition (by stream id): only its events are read, and `all` holds. */
  partition?: LogPartition;
  /** Whether an event may be the partition's: true when it cannot tell (the caller waits then). */
  belongs: (event: RecordedEvent) => boolean;
  /** Whether every event of the types is the partition's (one partition): the first one decides. */
  all: boolean;
}

/** Events read at most per scan: past them, the partition counts as clear only as far as they go. */
const maxEventsRead = 2000;
const pageSize = 200;

/**
 * The first event of the partition after `after`, or how far it has none (at least as far
 * as `until` when the log is visible that far).
 */
export async function scanPartition(tx: EventStoreTransaction, target: ScanTarget): Promise<PartitionScan> {
  const limit = target.all ? 1 : pageSize;
  let after = target.after;
  for (let read = 0; read < maxEventsRead; read += limit) {
    const page = await tx.readAll({
      after,
      limit,
      ...(target.types ? { types: [...target.types] } : {}),
      ...(target.categories ? { categories: [...target.categories] } : {}),
      ...(target.partition ? { partition: target.partition } : {}),
    });
    for (const event of page) {
      if (event.globalPosition > target.until) return { clearUntil: event.globalPosition - 1n };
      if (target.all || target.belongs(event)) return { firstOwn: event.globalPosition };
    }
    // A short page ends what readers can see: at least the head read before it (the
    // bound of a later statement is never lower, docs/global-log.md).
    if (page.length < limit) return { clearUntil: [target.head, after, page.at(-1)?.globalPosition ?? after].reduce((a, b) => (a > b ? a : b)) };
    after = page.at(-1)!.globalPosition;
  }
  return { clearUntil: after };
}

/** Whether the partition, per `scan`, has nothing of its own at or below `position`. */
export function clearUpTo(scan: PartitionScan, position: bigint): boolean {
  return 'firstOwn' in scan ? position < scan.firstOwn : position <= scan.clearUntil;
}
