import { z } from 'zod';
import { quoteIdent } from '../database/quote-ident.js';
import type { EventStore, EventStoreTransaction } from '../event-store/event-store.js';
import { parseInput } from '../validation.js';

export interface ArchiveOptions {
  /** Archive the events at or below this global position. */
  through?: bigint;
  /** Archive the events recorded more than this long ago (milliseconds). */
  olderThanMs?: number;
  /** Events moved per transaction (default 5,000): each batch commits on its own. */
  batchSize?: number;
  /** Count what would be moved, move nothing. */
  dryRun?: boolean;
  /** Ends the run between two batches (what was moved stays moved). */
  signal?: AbortSignal;
}

export interface ArchiveReport {
  dryRun: boolean;
  /** Events moved to the archive (with dryRun: that would be moved). */
  moved: number;
  /** The archive point after the run: every event at or below it is in the archive. */
  archivedThrough: bigint;
}

export interface RestoreOptions {
  /** Restore the archived events above this global position (default: all). */
  after?: bigint;
  /** Events moved back per transaction (default 5,000). */
  batchSize?: number;
}

const batchSizeSchema = z.number({ error: 'must be a number' }).int({ error: 'must be a whole number' }).min(1, { error: 'must be at least 1' }).max(100_000, { error: 'must be at most 100,000' });
const positionSchema = z.bigint({ error: 'must be a bigint' }).min(0n, { error: 'must be >= 0' });

const archiveOptionsSchema = z
  .object({
    through: positionSchema.optional(),
    olderThanMs: z.number({ error: 'must be a number' }).int({ error: 'must be a whole number' }).min(0, { error: 'must be >= 0' }).optional(),
    batchSize: batchSizeSchema.optional(),
    dryRun: z.boolean({ error: 'must be true or false' }).optional(),
    signal: z.instanceof(AbortSignal, { error: 'must be an AbortSignal' }).optional(),
  })
  .strict()
  .refine((options) => options.through !== undefined || options.olderThanMs !== undefined, {
    error: 'give through (a global position) or olderThanMs (an age), or both',
    path: ['through'],
  });

const restoreOptionsSchema = z.object({ after: positionSchema.optional(), batchSize: batchSizeSchema.optional() }).strict().optional();

const columns = 'global_position, stream_id, stream_version, event_id, category, type, schema_version, data, metadata, recorded_at';

/**
 * Moves the oldest events of the log into the archive (migration 0017; docs/archive.md):
 * those at or below `through` and recorded more than `olderThanMs` ago, oldest first, in
 * batches that each move their events in one statement and commit on their own. Every
 * read of the store reads the hot log and the archive together, so nothing a reader sees
 * changes but where the rows are: the hot table keeps only what is newer, densely.
 *
 * Only events the log's readers can already see are moved (below the bound of open
 * appenders: no later commit can land among them), and never the newest one, so the log's
 * head is always in the hot table.
 *
 * Rows go into the archive in position order (`ORDER BY` on the insert): what a DELETE
 * returns comes in no useful order, and a rebuild reading the archive by position then
 * visited one heap page per event instead of one per forty.
 */
export async function archiveEvents(store: EventStore, options: ArchiveOptions): Promise<ArchiveReport> {
  const { through, olderThanMs, batchSize = 5_000, dryRun = false, signal } = parseInput(archiveOptionsSchema, options, 'options');
  const head = await store.headPosition();
  const cut = await store.withTransaction((tx) => archivePoint(tx, { through, olderThanMs, head }), { appends: false });
  if (dryRun) {
    const [row] = await query<{ n: string | number }>(store, (s) => `SELECT count(*) AS n FROM ${s}.events WHERE global_position <= $1::bigint`, [cut.toString()]);
    return { dryRun, moved: Number(row?.n ?? 0), archivedThrough: await archivedThrough(store) };
  }
  let moved = 0;
  // Each batch starts where the last one ended: the rows moved before stay in the hot
  // table's index as dead entries while an older snapshot is open (a long rebuild, a
  // dump), and a batch reading from the start would walk them all again.
  let after = await archivedThrough(store);
  for (;;) {
    if (signal?.aborted) break;
    const batch = await store.withTransaction(
      async (tx) => {
        const s = quoteIdent(tx.schema);
        const [row] = await tx.query<{ n: string | number; last: string | null }>(
          // The batch is a range of positions (every event at or below the cut moves), so
          // the DELETE walks the index: an IN list made Postgres scan the whole table per batch.
          `WITH batch AS (
             SELECT max(global_position) AS upto
               FROM (SELECT global_position FROM ${s}.events WHERE global_position > $3::bigint AND global_position <= $1::bigint
                      ORDER BY global_position LIMIT $2::integer) first
           ),
           gone AS (
             DELETE FROM ${s}.events WHERE global_position > $3::bigint AND global_position <= (SELECT upto FROM batch) RETURNING ${columns}
           ),
           kept AS (INSERT INTO ${s}.events_archive (${columns}) SELECT ${columns} FROM gone ORDER BY global_position RETURNING global_position)
           SELECT count(*) AS n, max(global_position)::text AS last FROM kept`,
          [cut.toString(), batchSize, after.toString()],
        );
        const n = Number(row?.n ?? 0);
        if (n > 0) {
          after = BigInt(row!.last!);
          await tx.query(
            `UPDATE ${s}.archive_state SET archived_through = greatest(archived_through, $1::bigint),
               archived_events = archived_events + $2::bigint, last_archived_at = now()`,
            [row!.last, n],
          );
        }
        return n;
      },
      { appends: false },
    );
    moved += batch;
    // Until a batch finds nothing: one that came up short may have raced retention, which
    // removed some of its rows, and more may remain below the cut.
    if (batch === 0) break;
  }
  return { dryRun, moved, archivedThrough: await archivedThrough(store) };
}

/**
 * The highest position to archive through: `through` and the age cut, whichever is lower,
 * and always below the head (bounded: no appender still open can write below it).
 */
async function archivePoint(tx: EventStoreTransaction, { through, olderThanMs, head }: { through: bigint | undefined; olderThanMs: number | undefined; head: bigint }): Promise<bigint> {
  let cut = head - 1n;
  if (through !== undefined && through < cut) cut = through;
  if (olderThanMs !== undefined) {
    // The last event recorded before the cutoff, in log order: an older-looking event after
    // a newer one (transactions start in one order and commit in another) stays hot with it.
    const [row] = await tx.query<{ p: string | null }>(
      `SELECT max(global_position)::text AS p FROM ${quoteIdent(tx.schema)}.events
        WHERE global_position < coalesce((SELECT min(global_position) FROM ${quoteIdent(tx.schema)}.events
                                           WHERE recorded_at >= now() - make_interval(secs => $1::bigint / 1000.0)), $2::bigint + 1)`,
      [olderThanMs, head.toString()],
    );
    const aged = row?.p === null || row?.p === undefined ? 0n : BigInt(row.p);
    if (aged < cut) cut = aged;
  }
  return cut < 0n ? 0n : cut;
}

/**
 * Moves archived events back into the hot log (all, or those above `after`), newest
 * first, in batches: the archive point goes down with them. Rows come back exactly as
 * they were (every column, every position).
 */
export async function restoreArchive(store: EventStore, options?: RestoreOptions): Promise<{ restored: number; archivedThrough: bigint }> {
  const { after = -1n, batchSize = 5_000 } = parseInput(restoreOptionsSchema, options, 'options') ?? {};
  let restored = 0;
  // Each batch ends below where the last one began (see archiveEvents).
  let below = 9_223_372_036_854_775_807n;
  for (;;) {
    const batch = await store.withTransaction(
      async (tx) => {
        const s = quoteIdent(tx.schema);
        const [row] = await tx.query<{ n: string | number; lowest: string | null }>(
          // The newest archived events, as a range of positions (see archiveEvents).
          `WITH batch AS (
             SELECT min(global_position) AS lowest
               FROM (SELECT global_position FROM ${s}.events_archive WHERE global_position > $1::bigint AND global_position < $3::bigint
                      ORDER BY global_position DESC LIMIT $2::integer) newest
           ),
           gone AS (
             DELETE FROM ${s}.events_archive WHERE global_position >= (SELECT lowest FROM batch) AND global_position < $3::bigint RETURNING ${columns}
           ),
           back AS (INSERT INTO ${s}.events (${columns}) SELECT ${columns} FROM gone ORDER BY global_position RETURNING global_position)
           SELECT count(*) AS n, min(global_position)::text AS lowest FROM back`,
          [after.toString(), batchSize, below.toString()],
        );
        const n = Number(row?.n ?? 0);
        if (n > 0) below = BigInt(row!.lowest!);
        if (n > 0) {
          await tx.query(
            `UPDATE ${s}.archive_state SET archived_events = greatest(archived_events - $1::bigint, 0),
               archived_through = coalesce((SELECT max(global_position) FROM ${s}.events_archive), 0)`,
            [n],
          );
        }
        return n;
      },
      { appends: false },
    );
    restored += batch;
    if (batch === 0) break;
  }
  return { restored, archivedThrough: await archivedThrough(store) };
}

async function archivedThrough(store: EventStore): Promise<bigint> {
  const [row] = await query<{ p: string }>(store, (s) => `SELECT archived_through::text AS p FROM ${s}.archive_state`, []);
  return BigInt(row?.p ?? '0');
}

function query<Row>(store: EventStore, text: (schema: string) => string, parameters: unknown[]): Promise<Row[]> {
  return store.withTransaction((tx) => tx.query<Row>(text(quoteIdent(tx.schema)), parameters), { appends: false });
}
