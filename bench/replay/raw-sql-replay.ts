/**
 * Projection replay, the practical limit: the like_counts read model rebuilt from Annals'
 * own `events` table by one set-based statement,
 *
 *   INSERT INTO like_counts SELECT data->>'postId', sum(±1) FROM events WHERE ... GROUP BY 1
 *
 * which no event-at-a-time projection can beat: Postgres reads the log once, aggregates in
 * memory and writes each read-model row once. It prices the gap between a projection
 * runner and the data it replays.
 *
 * Also exports the loader of the workload into an Annals schema (setup, never measured),
 * for the Annals replay contestant to reuse.
 *
 * Run alone: `npx tsx bench/replay/raw-sql-replay.ts` (REPLAY_EVENTS=100000 for a quick run).
 */
import pg from 'pg';
import { loadAnnals } from '../annals-api.js';
import { adminQuery, databaseUrl, formatRate, freshName, now, quoteIdent, withTarget, type Throughput } from '../harness.js';
import { isMain } from '../is-main.js';
import { median } from '../median.js';
import {
  defaultWorkload,
  expectedLikeCounts,
  likeSegments,
  loadSegments,
  verifyLikeCounts,
  type LikeEvent,
  type LikeWorkloadOptions,
} from './events.js';

/** Events per load transaction: a few thousand, as a bulk import would commit. */
const eventsPerTransaction = 2_000;

/** Load transactions in flight at once. Streams in flight never overlap (see below). */
const loadConcurrency = 4;

export interface LoadResult extends Throughput {
  /** appendToStream calls made. */
  appends: number;
}

/**
 * Creates Annals' tables in `schema` (its own migration) and appends the whole workload
 * with Annals' public API (of the working tree, or of the checkout at `annalsRoot`:
 * bench/compare). Setup, not a figure.
 *
 * Segment by segment: a segment's events are grouped by stream, the groups are packed into
 * transactions of about `eventsPerTransaction` events (`withTransaction`, then
 * `tx.appendToStream(streamId, events, { expectedVersion: 'any' })` per stream), and
 * `loadConcurrency` transactions run at once. The streams of one segment are disjoint
 * between transactions and segments load one after another, so every stream keeps its
 * order and appends never wait on each other's stream rows.
 */
export async function loadAnnalsLikes(options: {
  schema: string;
  workload: LikeWorkloadOptions;
  connectionString?: string;
  annalsRoot?: string;
}): Promise<LoadResult> {
  const connectionString = options.connectionString ?? databaseUrl;
  const { createEventStore } = await loadAnnals(options.annalsRoot);
  const store = createEventStore({ connectionString, maxConnections: loadConcurrency }, { schema: options.schema });
  let events = 0;
  let appends = 0;
  const started = now();
  try {
    await store.migrate();
    for (const segment of likeSegments(options.workload, loadSegments(options.workload))) {
      const transactions = packTransactions(segment, eventsPerTransaction);
      let next = 0;
      const worker = async () => {
        for (let index = next++; index < transactions.length; index = next++) {
          await store.withTransaction(async (tx) => {
            for (const [streamId, streamEvents] of transactions[index]!) {
              // LikeCreated's current shape is schema version 2 (domain/likes/likes.events.ts).
              const stamped = streamEvents.map((event) => (event.type === 'LikeCreated' ? { ...event, schemaVersion: 2 } : event));
              await tx.appendToStream(streamId, stamped, { expectedVersion: 'any' });
            }
          });
        }
      };
      await Promise.all(Array.from({ length: loadConcurrency }, worker));
      for (const streamEvents of segment.values()) events += streamEvents.length;
      appends += segment.size;
    }
  } finally {
    await store.close();
  }
  const seconds = (now() - started) / 1000;
  return { events, appends, seconds, eventsPerSecond: events / seconds };
}

/** Packs a segment's stream groups, in order, into transactions of about `size` events. */
function packTransactions(segment: Map<string, LikeEvent[]>, size: number): [string, LikeEvent[]][][] {
  const transactions: [string, LikeEvent[]][][] = [];
  let current: [string, LikeEvent[]][] = [];
  let inCurrent = 0;
  for (const entry of segment) {
    current.push(entry);
    inCurrent += entry[1].length;
    if (inCurrent >= size) {
      transactions.push(current);
      current = [];
      inCurrent = 0;
    }
  }
  if (current.length > 0) transactions.push(current);
  return transactions;
}

/** The read model every contestant builds: one row per post that any event named. */
export const likeCountsTableSQL = (table: string): string =>
  `CREATE TABLE IF NOT EXISTS ${table} (post_id text PRIMARY KEY, likes integer NOT NULL)`;

/**
 * Measures the set-based replay on the log loaded in `schema`: `rounds` times (default 3)
 * TRUNCATE like_counts (not measured), then the INSERT ... SELECT (measured: the
 * statement, which commits on its own). The figure is the median round; the counts are
 * checked against `expected` after each round.
 *
 * Before the rounds the log is VACUUM ANALYZEd (as the read figure does), so no round pays
 * for setting hint bits on freshly loaded rows and the planner knows the table's size.
 */
export async function measureRawSqlReplay(options: {
  schema: string;
  expected: Map<string, number>;
  rounds?: number;
  connectionString?: string;
}): Promise<Throughput> {
  const connectionString = options.connectionString ?? databaseUrl;
  const schema = quoteIdent(options.schema);
  const table = `${schema}.like_counts`;
  await adminQuery([`VACUUM ANALYZE ${schema}.events`, likeCountsTableSQL(table)], connectionString);
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${schema}.events WHERE category = 'post' AND type IN ('LikeCreated', 'LikeRemoved')`,
    );
    const events = Number(rows[0]?.n);
    const samples: number[] = [];
    for (let round = 0; round < (options.rounds ?? 3); round++) {
      await client.query(`TRUNCATE ${table}`);
      const started = now();
      // The category and type filter is what a real replay needs: the log holds other
      // streams and event types too. sum() is bigint; the column takes it by assignment.
      await client.query(
        `INSERT INTO ${table} (post_id, likes)
         SELECT data->>'postId', sum(CASE type WHEN 'LikeCreated' THEN 1 ELSE -1 END)
         FROM ${schema}.events
         WHERE category = 'post' AND type IN ('LikeCreated', 'LikeRemoved')
         GROUP BY 1`,
      );
      samples.push((now() - started) / 1000);
      const counts = await client.query<{ post_id: string; likes: number }>(`SELECT post_id, likes FROM ${table}`);
      verifyLikeCounts(counts.rows, options.expected);
    }
    const seconds = median(samples);
    return { events, seconds, eventsPerSecond: events / seconds };
  } finally {
    await client.end();
  }
}

/** The whole contestant on a fresh schema, dropped afterwards: load, then measure. */
export async function runRawSqlReplay(workload: LikeWorkloadOptions = defaultWorkload()): Promise<Throughput> {
  const expected = expectedLikeCounts(workload);
  return withTarget({ schema: freshName('raw_sql_replay') }, async (target) => {
    const schema = (target as { schema: string }).schema;
    const load = await loadAnnalsLikes({ schema, workload });
    console.log(
      `  raw SQL replay: loaded ${formatRate(load.events)} events (${formatRate(load.appends)} appends) into Annals in ` +
        `${load.seconds.toFixed(1)} s (${formatRate(load.eventsPerSecond)} events/s)`,
    );
    const replay = await measureRawSqlReplay({ schema, expected });
    console.log(`  raw SQL replay: ${formatRate(replay.eventsPerSecond)} events/s (${replay.seconds.toFixed(3)} s for ${formatRate(replay.events)} events)`);
    return replay;
  });
}

if (isMain(import.meta.url)) await runRawSqlReplay();
