/**
 * The projection's live path (issue 17): a projection already caught up when N new events
 * arrive, worked off by a projection worker in its live batches (not a replay), against
 * the practical limit, a raw `pg` loop doing the same work by hand on the same log.
 *
 * - **Annals**: the like-counts example projection (its `applyBatch`: one upsert per
 *   batch), set up on the empty log and caught up; then the workload is appended; then
 *   `runProjections` with its defaults (batches of 500) runs until its checkpoint reaches
 *   the log's head. Timed from the worker's start to that batch (onBatch), start-up
 *   included. Each round runs a projection of its own, set up before the load.
 * - **Raw loop**: per batch of the same size, one transaction: the page (keyset on
 *   global_position, bounded by the snapshot's xmin as Annals' reads are), the deltas per
 *   post summed in JS, one `INSERT ... SELECT FROM unnest ... ON CONFLICT DO UPDATE`, the
 *   checkpoint's UPDATE; until a page comes back short. No validation, no leases.
 *
 * Both read models are checked against the workload's counts. Rounds alternate, in the
 * bench's own process. Run alone: `npx tsx bench/projections/live-path.ts`
 * (LIVE_EVENTS, default 100,000 over LIVE_POSTS 10,000 posts; LIVE_ROUNDS, default 3).
 */
import pg from 'pg';
import type { AnyProjection, EventStore } from '../../src/index.js';
import type { AnnalsApi } from '../annals-api.js';
import { likeCountsNamed } from '../replay/annals-replay.js';
import { defaultWorkload, expectedLikeCounts, verifyLikeCounts, type LikeWorkloadOptions } from '../replay/events.js';
import { positionBits } from '../contestants/raw-pg.js';
import { loadAnnalsLikes } from '../replay/raw-sql-replay.js';
import { databaseUrl, dropStoreSchemas, formatRate, freshName, intFromEnv, now, quoteIdent, type Throughput } from '../harness.js';
import { isMain } from '../is-main.js';
import { median } from '../median.js';

/** The worker's default batch size, which the raw loop uses too. */
const batchSize = 500;

export interface LivePathFigure {
  workload: LikeWorkloadOptions;
  annals: Throughput[];
  raw: Throughput[];
}

export async function runLivePath(
  workload: LikeWorkloadOptions = { ...defaultWorkload(), events: intFromEnv('LIVE_EVENTS', 100_000), posts: intFromEnv('LIVE_POSTS', 10_000) },
  rounds = intFromEnv('LIVE_ROUNDS', 3),
): Promise<LivePathFigure> {
  const schema = freshName('live_path');
  const expected = expectedLikeCounts(workload);
  const projections = await Promise.all(Array.from({ length: rounds }, (_, round) => likeCountsNamed(undefined, `live-${round}`)));
  const { annals } = projections[0]!;
  const store = annals.createEventStore({ connectionString: databaseUrl, maxConnections: 10 }, { schema });
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const figure: LivePathFigure = { workload, annals: [], raw: [] };
  try {
    await store.migrate();
    // Every round's projection is caught up on the empty log: the events below are new to all.
    for (const { projection } of projections) await annals.catchUpProjections(store, [projection], { timeoutMs: 60_000 });
    const load = await loadAnnalsLikes({ schema, workload });
    console.log(`  loaded ${formatRate(load.events)} new events (${formatRate(load.eventsPerSecond)} events/s)`);
    const head = await store.headPosition();
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (['annals', 'raw'] as const) : (['raw', 'annals'] as const);
      for (const contestant of order) {
        const seconds =
          contestant === 'annals'
            ? await annalsRound(annals, store, projections[round]!.projection, head, expected)
            : await rawRound(pool, schema, round, expected);
        const result = { events: load.events, seconds, eventsPerSecond: load.events / seconds };
        figure[contestant].push(result);
        console.log(`  round ${round + 1}, ${contestant}: ${formatRate(result.eventsPerSecond)} events/s`);
      }
    }
    return figure;
  } finally {
    await pool.end();
    await store.close();
    await dropStoreSchemas(schema);
  }
}

async function annalsRound(annals: AnnalsApi, store: EventStore, projection: AnyProjection, head: bigint, expected: Map<string, number>): Promise<number> {
  let reached!: () => void;
  const done = new Promise<void>((resolve) => (reached = resolve));
  const started = now();
  const runner = annals.runProjections(store, [projection], {
    onBatch: (batch) => {
      if (batch.position >= head) reached();
    },
  });
  await done;
  const seconds = (now() - started) / 1000;
  await runner.stop();
  const table = `${quoteIdent(annals.readSchemaOf(store.schema, projection))}.like_counts`;
  verifyLikeCounts(await store.withTransaction((tx) => tx.query<{ post_id: string; likes: number }>(`SELECT post_id, likes FROM ${table}`)), expected);
  return seconds;
}

async function rawRound(pool: pg.Pool, schema: string, round: number, expected: Map<string, number>): Promise<number> {
  const s = quoteIdent(schema);
  const counts = `${s}.raw_live_counts_${round}`;
  const checkpoint = `${s}.raw_live_checkpoint_${round}`;
  await pool.query(`CREATE TABLE ${counts} (post_id text PRIMARY KEY, likes integer NOT NULL)`);
  await pool.query(`CREATE TABLE ${checkpoint} (position bigint NOT NULL)`);
  await pool.query(`INSERT INTO ${checkpoint} VALUES (0)`);
  const page = `SELECT global_position, type, data->>'postId' AS post_id FROM ${s}.events
    WHERE global_position > $1 AND global_position < (pg_snapshot_xmin(pg_current_snapshot())::text::bigint << ${positionBits})
      AND type IN ('LikeCreated', 'LikeRemoved')
    ORDER BY global_position LIMIT ${batchSize}`;
  const upsert = `INSERT INTO ${counts} (post_id, likes) SELECT * FROM unnest($1::text[], $2::integer[])
    ON CONFLICT (post_id) DO UPDATE SET likes = ${counts}.likes + excluded.likes`;
  const started = now();
  const client = await pool.connect();
  try {
    let position = '0';
    for (;;) {
      await client.query('BEGIN');
      const { rows } = await client.query<{ global_position: string; type: string; post_id: string }>({ name: `live_page_${round}`, text: page, values: [position] });
      const deltas = new Map<string, number>();
      for (const row of rows) deltas.set(row.post_id, (deltas.get(row.post_id) ?? 0) + (row.type === 'LikeCreated' ? 1 : -1));
      if (deltas.size > 0) await client.query({ name: `live_upsert_${round}`, text: upsert, values: [[...deltas.keys()], [...deltas.values()]] });
      if (rows.length > 0) position = rows.at(-1)!.global_position;
      await client.query({ name: `live_checkpoint_${round}`, text: `UPDATE ${checkpoint} SET position = $1`, values: [position] });
      await client.query('COMMIT');
      if (rows.length < batchSize) break;
    }
  } finally {
    client.release();
  }
  const seconds = (now() - started) / 1000;
  verifyLikeCounts((await pool.query<{ post_id: string; likes: number }>(`SELECT post_id, likes FROM ${counts}`)).rows, expected);
  return seconds;
}

/** The medians and the same-round ratio (each Annals round over the raw round beside it). */
export function summarize(figure: LivePathFigure): { annals: number; raw: number; ratio: number; ratios: number[] } {
  const ratios = figure.annals.map((result, round) => result.eventsPerSecond / figure.raw[round]!.eventsPerSecond);
  return {
    annals: median(figure.annals.map((result) => result.eventsPerSecond)),
    raw: median(figure.raw.map((result) => result.eventsPerSecond)),
    ratio: median(ratios),
    ratios,
  };
}

if (isMain(import.meta.url)) {
  const figure = await runLivePath();
  const { annals, raw, ratio, ratios } = summarize(figure);
  console.log(
    `Live path, ${formatRate(figure.workload.events)} new events: Annals ${formatRate(annals)} events/s, raw loop ${formatRate(raw)} events/s; ` +
      `Annals / raw ${ratio.toFixed(2)}x (rounds ${ratios.map((r) => r.toFixed(2)).join(', ')}; target 0.6x)`,
  );
}
