import { z } from 'zod';
import { quoteIdent } from '../database/quote-ident.js';
import type { EventStore, EventStoreTransaction } from '../event-store/event-store.js';
import { categoryOf } from '../event-store/stream-name.js';
import { parseInput } from '../validation.js';
import type { Retention } from './define-retention.js';
import { retentionHolders, type RetentionHolder } from './holdback.js';
import { lockForRemoval } from './removed-history.js';

export interface RetentionRunOptions {
  /** Events removed per transaction (default 1,000): each batch commits on its own, so appends and readers never wait long. */
  batchSize?: number;
  /** Count what would be removed, remove nothing. */
  dryRun?: boolean;
  /** Ends the run between two batches (what was removed stays removed). */
  signal?: AbortSignal;
}

/** What a retention run did to one category (or one stream with a rule of its own). */
export interface RetentionResult {
  category: string;
  /** The stream, for a stream's own rule; undefined for the category's. */
  streamId: string | undefined;
  /** Events removed (with dryRun: that would be removed now). */
  removed: number;
  /** Events the rules expire that readers still need (above `safePosition`): removed by a later run. */
  waiting: number;
}

export interface RetentionReport {
  dryRun: boolean;
  /** Nothing above this global position was removed: the lowest position a reader of the log still needs (or the head). */
  safePosition: bigint;
  /** The readers at the lowest positions, those holding events back first. */
  heldBackBy: RetentionHolder[];
  results: RetentionResult[];
}

const optionsSchema = z
  .object({
    batchSize: z.number({ error: 'must be a number' }).int({ error: 'must be a whole number' }).min(1, { error: 'must be at least 1' }).max(100_000, { error: 'must be at most 100,000' }).optional(),
    dryRun: z.boolean({ error: 'must be true or false' }).optional(),
    signal: z.instanceof(AbortSignal, { error: 'must be an AbortSignal' }).optional(),
  })
  .strict()
  .optional();

type Rule = Exclude<Retention['categories'] extends ReadonlyMap<string, infer R> ? R : never, 'keep'>;

interface Target {
  category: string;
  streamId: string | undefined;
  rule: Rule;
  /** Streams of the category with rules of their own (or kept): left to them. */
  excluded: string[];
  /** Only these streams (a batch works on one slice of the category); undefined: all of them. */
  slice?: readonly string[];
}

/** Streams per slice of a category. */
const sliceSize = 500;

/** The next `sliceSize` streams of the target after `after`, by stream id. */
async function streamSlice(store: EventStore, target: Target, after: string): Promise<string[]> {
  if (target.streamId !== undefined) return [target.streamId];
  const rows = await store.withTransaction(
    (tx) =>
      tx.query<{ stream_id: string }>(
        `SELECT stream_id FROM ${quoteIdent(tx.schema)}.streams
          WHERE category = $1 AND stream_id > $2 AND stream_id <> ALL($3::text[])
          ORDER BY stream_id LIMIT ${sliceSize}`,
        [target.category, after, target.excluded],
      ),
    { appends: false },
  );
  return rows.map((row) => row.stream_id);
}

/**
 * Physically removes the events the policy expires from the log and the streams, in
 * batches of their own transactions, never an event a reader still needs (RetentionHolder).
 * Removed events are a prefix of each stream: its truncate_before moves past them, so
 * readStream starts after them and an aggregate without a snapshot past them refuses to
 * load (StreamTruncatedError) rather than load from half its history.
 *
 * @example
 * ```ts
 * const report = await runRetention(store, retention);
 * for (const r of report.results) console.log(r.category, r.removed, r.waiting);
 * ```
 */
export async function runRetention(store: EventStore, retention: Retention, options: RetentionRunOptions = {}): Promise<RetentionReport> {
  const { batchSize = 1000, dryRun = false, signal } = parseInput(optionsSchema, options, 'options') ?? {};
  const { safePosition, heldBackBy } = await store.withTransaction(safeLimit, { appends: false });
  const results: RetentionResult[] = [];
  for (const target of targetsOf(retention)) {
    if (signal?.aborted) break;
    const counts = await store.withTransaction((tx) => countDue(tx, target, safePosition), { appends: false });
    let removed = 0;
    // The category's streams a slice at a time, in stream id order, each slice's due
    // events in batches: the work of a run grows with the category, not with the
    // category times its batches.
    for (let after: string | null = ''; !dryRun && after !== null && !signal?.aborted; ) {
      const slice = await streamSlice(store, target, after);
      after = slice.length < sliceSize ? null : slice.at(-1)!;
      for (;;) {
        const batch = await store.withTransaction(
          async (tx) => {
            // Under the lock rebuilds take to check what was removed (removed-history.ts),
            // and with the readers as they are now: one that started since is counted.
            await lockForRemoval(tx);
            return removeBatch(tx, { ...target, slice }, (await safeLimit(tx)).safePosition, batchSize);
          },
          { appends: false },
        );
        removed += batch;
        // Until a batch removes nothing: one that came up short may have raced an archive
        // batch that moved some of its events after this one's snapshot.
        if (batch === 0 || signal?.aborted) break;
      }
    }
    results.push({ category: target.category, streamId: target.streamId, removed: dryRun ? counts.removable : removed, waiting: counts.waiting });
  }
  return { dryRun, safePosition, heldBackBy, results };
}

/**
 * The lowest position a reader still needs, and the readers there; with none, just below
 * the head. The log's newest event is never removed: the hot table's highest position is
 * what appends on a moved store are checked against (log-bound.ts), as with archiving.
 */
async function safeLimit(tx: EventStoreTransaction): Promise<{ safePosition: bigint; heldBackBy: RetentionHolder[] }> {
  const holders = await retentionHolders(tx);
  const head = await tx.headPosition();
  const belowHead = head > 0n ? head - 1n : 0n;
  const lowest = holders[0]?.position;
  if (lowest === undefined || lowest > belowHead) return { safePosition: belowHead, heldBackBy: [] };
  return { safePosition: lowest, heldBackBy: holders.filter((holder) => holder.position === lowest) };
}

function targetsOf(retention: Retention): Target[] {
  const ownRule = [...retention.streams.keys()];
  const categories = [...retention.categories].map(([category, rule]) => ({
    category,
    streamId: undefined,
    rule,
    excluded: ownRule.filter((stream) => categoryOf(stream) === category),
  }));
  const streams = [...retention.streams]
    .filter((entry): entry is [string, Rule] => entry[1] !== 'keep')
    .map(([streamId, rule]) => ({ category: categoryOf(streamId), streamId, rule, excluded: [] }));
  return [...categories, ...streams];
}

/**
 * Per stream of the target, the first version kept (`cut`): the highest that any of the
 * rule's conditions gives. The age rule keeps from the first event recorded since the
 * cutoff, so an older-looking event after it (transactions start in one order and commit
 * in another) never leaves a hole in the stream.
 */
function cutsSql(s: string): string {
  return `SELECT st.stream_id, greatest(
        CASE WHEN $3::integer IS NOT NULL THEN st.version - $3::integer + 1 END,
        CASE WHEN $4::bigint IS NOT NULL THEN (
          SELECT coalesce(min(x.stream_version), st.version + 1) FROM ${s}.events_all x
           WHERE x.stream_id = st.stream_id AND x.recorded_at >= now() - make_interval(secs => $4::bigint / 1000.0)) END,
        CASE WHEN $5::boolean AND st.deleted_at IS NOT NULL THEN st.version + 1 END,
        CASE WHEN $6::boolean THEN st.truncate_before END,
        0) AS cut
      FROM ${s}.streams st
     WHERE (($1::text IS NULL AND st.category = $2::text AND st.stream_id <> ALL($7::text[]))
        OR st.stream_id = $1::text)
       AND ($8::text[] IS NULL OR st.stream_id = ANY($8::text[]))`;
}

function parameters(target: Target): unknown[] {
  const { rule } = target;
  return [target.streamId ?? null, target.category, rule.maxCount ?? null, rule.maxAgeMs ?? null, rule.afterDelete, rule.truncated, target.excluded, target.slice ?? null];
}

async function countDue(tx: EventStoreTransaction, target: Target, safe: bigint): Promise<{ removable: number; waiting: number }> {
  const s = quoteIdent(tx.schema);
  const [row] = await tx.query<{ removable: string | number; waiting: string | number }>(
    `WITH cuts AS (${cutsSql(s)})
     SELECT count(*) FILTER (WHERE e.global_position <= $9::bigint) AS removable,
            count(*) FILTER (WHERE e.global_position > $9::bigint) AS waiting
       FROM ${s}.events_all e JOIN cuts c ON c.stream_id = e.stream_id
      WHERE e.stream_version < c.cut`,
    [...parameters(target), safe.toString()],
  );
  return { removable: Number(row?.removable ?? 0), waiting: Number(row?.waiting ?? 0) };
}

/**
 * One batch: the oldest due events at or below `safe`, deleted; each stream's
 * truncate_before moved past what it lost; the category's removed_through raised.
 */
async function removeBatch(tx: EventStoreTransaction, target: Target, safe: bigint, limit: number): Promise<number> {
  const s = quoteIdent(tx.schema);
  const removed = await tx.query<{ stream_id: string; stream_version: string | bigint; global_position: string | bigint; archived: boolean }>(
    `WITH cuts AS (${cutsSql(s)}),
     doomed AS (
       SELECT e.global_position FROM ${s}.events_all e JOIN cuts c ON c.stream_id = e.stream_id
        WHERE e.stream_version < c.cut AND e.global_position <= $9::bigint
        ORDER BY e.global_position
        LIMIT $10::integer
     ),
     -- Expired events go wherever they are: the hot log or the archive (docs/archive.md).
     hot AS (
       DELETE FROM ${s}.events WHERE global_position IN (SELECT global_position FROM doomed)
       RETURNING stream_id, stream_version, global_position
     ),
     archived AS (
       DELETE FROM ${s}.events_archive WHERE global_position IN (SELECT global_position FROM doomed)
       RETURNING stream_id, stream_version, global_position
     )
     SELECT *, false AS archived FROM hot UNION ALL SELECT *, true AS archived FROM archived`,
    [...parameters(target), safe.toString(), limit],
  );
  if (removed.length === 0) return 0;
  const lastVersions = new Map<string, bigint>();
  let highest = 0n;
  for (const row of removed) {
    const version = BigInt(row.stream_version);
    if ((lastVersions.get(row.stream_id) ?? 0n) < version) lastVersions.set(row.stream_id, version);
    const position = BigInt(row.global_position);
    if (position > highest) highest = position;
  }
  await tx.query(
    `UPDATE ${s}.streams st SET truncate_before = greatest(st.truncate_before, u.next), updated_at = now()
       FROM unnest($1::text[], $2::bigint[]) AS u(stream_id, next)
      WHERE st.stream_id = u.stream_id`,
    [[...lastVersions.keys()], [...lastVersions.values()].map((version) => (version + 1n).toString())],
  );
  await tx.query(
    `INSERT INTO ${s}.retention_removed AS r (category, removed_through, removed_events) VALUES ($1, $2, $3)
     ON CONFLICT (category) DO UPDATE SET removed_through = greatest(r.removed_through, excluded.removed_through),
       removed_events = r.removed_events + excluded.removed_events, last_removed_at = now()`,
    [target.category, highest.toString(), removed.length],
  );
  const fromArchive = removed.filter((row) => row.archived).length;
  if (fromArchive > 0) await tx.query(`UPDATE ${s}.archive_state SET archived_events = greatest(archived_events - $1::bigint, 0)`, [fromArchive]);
  return removed.length;
}
