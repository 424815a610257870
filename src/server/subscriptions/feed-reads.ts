import { readCheckpoints } from '../../consumers/partitions.js';
import type { EventStoreTransaction, RecordedEvent } from '../../event-store/event-store.js';
import { projectionTables } from '../../projections/projection-tables.js';

/**
 * The reads of a projection feed (projection-feed.ts): how far a projection's live
 * generation has come, and the log's events between two positions.
 */

/** The projection's live generation, as far as a feed follows it. */
export interface LiveFrontier {
  generation: number;
  /** What the generation handles (null: every type, every category). */
  eventTypes: readonly string[] | null;
  categories: readonly string[] | null;
  /** Its lowest checkpoint: every event of the projection up to it is in the live tables. */
  frontier: bigint;
  /** Its highest checkpoint: no event after it is in the live tables (the same as `frontier` with one partition). */
  highest: bigint;
  /** Each partition's checkpoint, by partition: an event of partition p is in the live tables iff at or below it. */
  checkpoints: ReadonlyMap<number, bigint>;
}

/**
 * The live generation of `projection` and its partitions' checkpoints, in the caller's
 * snapshot; undefined while it has none (or no partitions yet).
 */
export async function readLiveFrontier(tx: EventStoreTransaction, projection: string): Promise<LiveFrontier | undefined> {
  const row = await projectionTables(tx)
    .selectFrom('projection_generations')
    .select(['generation', 'event_types', 'categories'])
    .where('projection', '=', projection)
    .where('status', '=', 'live')
    .executeTakeFirst();
  if (!row) return undefined;
  const partitions = await readCheckpoints(tx, { consumer: projection, generation: row.generation });
  if (partitions.length === 0) return undefined;
  const checkpoints = new Map(partitions.map((p) => [p.partition, p.position]));
  const positions = partitions.map((p) => p.position);
  const frontier = positions.reduce((low, p) => (p < low ? p : low));
  const highest = positions.reduce((high, p) => (p > high ? p : high));
  return { generation: row.generation, eventTypes: row.event_types, categories: row.categories, frontier, highest, checkpoints };
}

/** Events read per statement while scanning the log. */
const pageSize = 1000;

export interface LogRange {
  /** Events after this position (exclusive)… */
  after: bigint;
  /** …up to this one (inclusive). */
  until: bigint;
  types: readonly string[] | null;
  categories: readonly string[] | null;
  /** Stop after reading this many (default: no limit). */
  limit?: number;
}

/**
 * Calls `visit` with each event of the range, in log order, a page at a time (memory stays
 * flat however long the range). Resolves with whether it read the whole range, rather than
 * stopping at `limit`.
 *
 * The range ends at a projection's checkpoint, and every event up to a checkpoint had
 * committed before the checkpoint moved (the worker read it through the log's bounded
 * reads), so it is all in the round's snapshot: `readAllCommitted` returns it whole. Not
 * `readAll`: in a repeatable-read snapshot its bound counts every transaction that
 * committed since the snapshot, whatever it wrote (docs/global-log.md), and can stop
 * below the checkpoint: the events between would be stepped over.
 */
export async function scanLog(tx: EventStoreTransaction, range: LogRange, visit: (event: RecordedEvent) => void): Promise<boolean> {
  const filters = {
    ...(range.types ? { types: [...range.types] } : {}),
    ...(range.categories ? { categories: [...range.categories] } : {}),
  };
  let after = range.after;
  let read = 0;
  while (after < range.until) {
    const limit = range.limit === undefined ? pageSize : Math.min(pageSize, range.limit - read);
    if (limit <= 0) return false;
    const page = await tx.readAllCommitted({ after, until: range.until, limit, ...filters });
    for (const event of page) visit(event);
    read += page.length;
    if (page.length < limit) return true;
    after = page.at(-1)!.globalPosition;
  }
  return true;
}
