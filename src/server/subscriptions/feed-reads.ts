import { readCheckpoints } from '../../consumers/partitions.js';
import type { EventStoreTransaction, RecordedEvent } from '../../event-store/event-store.js';
import { table } from '../../projections/generations.js';
import { lowestOwed } from '../../projections/progress-reads.js';

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
  /**
   * Whether appends write it, in their own transactions (withInlineProjections): then its
   * rows hold every change committed in the caller's snapshot, some of them possibly above
   * `frontier` (migrations/0012).
   */
  inline: boolean;
  /** Every event of the projection up to it is in the live tables (its lowest checkpoint, or for an inline generation see readInlineFrontier). */
  frontier: bigint;
  /** Its highest checkpoint: no event after it is in the live tables (the same as `frontier` with one partition, or inline). */
  highest: bigint;
  /** Each partition's checkpoint, by partition: an event of partition p is in the live tables iff at or below it (empty when inline). */
  checkpoints: ReadonlyMap<number, bigint>;
}

/**
 * The live generation of `projection` and how far it has come, in the caller's snapshot;
 * undefined while it has none (or no partitions yet).
 */
export async function readLiveFrontier(tx: EventStoreTransaction, projection: string): Promise<LiveFrontier | undefined> {
  // Raw: applied_inline is read here only, where no projection table type needs it.
  const [row] = await tx.query<{ generation: number; event_types: string[] | null; categories: string[] | null; applied_inline: boolean }>(
    `SELECT generation, event_types, categories, applied_inline FROM ${table(tx.schema, 'projection_generations')} WHERE projection = $1 AND status = 'live'`,
    [projection],
  );
  if (!row) return undefined;
  const scope = { generation: row.generation, eventTypes: row.event_types, categories: row.categories };
  if (row.applied_inline) {
    const frontier = await readInlineFrontier(tx, projection, row.generation);
    return { ...scope, inline: true, frontier, highest: frontier, checkpoints: new Map() };
  }
  const partitions = await readCheckpoints(tx, { consumer: projection, generation: row.generation });
  if (partitions.length === 0) return undefined;
  const checkpoints = new Map(partitions.map((p) => [p.partition, p.position]));
  const positions = partitions.map((p) => p.position);
  const frontier = positions.reduce((low, p) => (p < low ? p : low));
  const highest = positions.reduce((high, p) => (p > high ? p : high));
  return { ...scope, inline: false, frontier, highest, checkpoints };
}

/**
 * How far an inline generation has come, in the caller's snapshot: a position at or below
 * which every change it will ever apply is in its tables, as this snapshot sees them.
 *
 * Its checkpoints do not move: each append writes it in the append's own transaction. So
 * every event that is visible in the snapshot has been applied, and every one that is
 * not has not; what is needed is a position below which every event that will ever exist
 * is visible. That is the readers' head (docs/global-log.md): no transaction this
 * snapshot cannot see appends below it. In a repeatable-read snapshot the bound may be
 * lower than a fresh statement's (it counts every transaction that committed since,
 * whatever it wrote), never higher: still safe, and the next round catches up.
 *
 * Less, when code of another version appended events the generation still owes
 * (inline-pending.ts): they are visible but not applied, and change rows later, when the
 * generation's own code applies them (deleting what it owed in the same transaction).
 * The frontier stays below the lowest of them until then.
 */
export async function readInlineFrontier(tx: EventStoreTransaction, projection: string, generation: number): Promise<bigint> {
  const head = await tx.headPosition();
  const owed = await lowestOwed(tx, projection, generation);
  return owed !== null && owed <= head ? owed - 1n : head;
}

/** Events read per statement while scanning the log. */
const pageSize = 1000;

/** The largest position: a range to it reads every event the snapshot sees. */
export const endOfLog = 2n ** 63n - 1n;

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
 * below the checkpoint: the events between would be stepped over. An inline generation's
 * frontier is the snapshot's own head, so everything up to it is there too; past it
 * (`until: endOfLog`), what the snapshot sees is what an inline generation's rows hold.
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
