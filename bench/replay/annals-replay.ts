/**
 * Projection replay through Annals: the like-counts example projection
 * (projections/like-counts) rebuilt by replay, as after a bug fix. Version 1 is caught up
 * first (not measured); then version 2 is run with `catchUpProjections`, which replays
 * the whole log into a new generation through the projection's set-based `replayBatch`
 * (batches of `replayBatchSize` events, default 5,000, each in one transaction with its
 * checkpoint) and switches readers to it. Measured: from the call until it returns,
 * switch included. The rebuilt counts are checked against the workload's.
 *
 * Run alone: `npx tsx bench/replay/annals-replay.ts` (REPLAY_EVENTS=100000 for a quick run).
 */
import { catchUpProjections, createEventStore, defineProjection, readSchemaOf } from '../../src/index.js';
import { likeCounts } from '../../projections/like-counts/like-counts.projection.js';
import { adminQuery, databaseUrl, formatRate, freshName, now, quoteIdent, type Throughput } from '../harness.js';
import { isMain } from '../is-main.js';
import { defaultWorkload, expectedLikeCounts, verifyLikeCounts, type LikeWorkloadOptions } from './events.js';

/** Version 2 of the example projection: the same code, bumped as after a fix. */
const likeCountsV2 = defineProjection({ ...likeCounts.definition, version: 2 });

export async function measureAnnalsReplay(options: { schema: string; expected: Map<string, number>; replayBatchSize?: number }): Promise<Throughput> {
  await adminQuery([`VACUUM ANALYZE ${quoteIdent(options.schema)}.events`]);
  const store = createEventStore({ connectionString: databaseUrl, maxConnections: 4 }, { schema: options.schema });
  try {
    // Version 1 builds the first generation (live from the start): not measured.
    await catchUpProjections(store, [likeCounts], { batchSize: 5000, timeoutMs: 30 * 60_000 });
    const events = Number(
      (
        await store.withTransaction((tx) =>
          tx.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteIdent(options.schema)}.events WHERE type IN ('LikeCreated', 'LikeRemoved')`),
        )
      )[0]!.n,
    );
    const started = now();
    await catchUpProjections(store, [likeCountsV2], {
      ...(options.replayBatchSize ? { replayBatchSize: options.replayBatchSize } : {}),
      timeoutMs: 30 * 60_000,
    });
    const seconds = (now() - started) / 1000;
    const rows = await store.withTransaction((tx) =>
      tx.query<{ post_id: string; likes: number }>(`SELECT post_id, likes FROM ${quoteIdent(readSchemaOf(store.schema, likeCountsV2))}.like_counts`),
    );
    verifyLikeCounts(rows, options.expected);
    return { events, seconds, eventsPerSecond: events / seconds };
  } finally {
    await store.close();
  }
}

/** Loads the workload into a fresh schema, measures the rebuild, drops everything. */
export async function runAnnalsReplay(workload: LikeWorkloadOptions = defaultWorkload()): Promise<Throughput> {
  const schema = freshName('replay_annals');
  const { loadAnnalsLikes } = await import('./raw-sql-replay.js');
  try {
    const load = await loadAnnalsLikes({ schema, workload });
    console.log(`  loaded ${formatRate(load.events)} events into Annals (${formatRate(load.eventsPerSecond)} events/s)`);
    return await measureAnnalsReplay({ schema, expected: expectedLikeCounts(workload) });
  } finally {
    await dropStoreSchemas(schema);
  }
}

/** The store's schema and the projection schemas named after it. */
export async function dropStoreSchemas(schema: string): Promise<void> {
  const pg = (await import('pg')).default;
  const client = new pg.Client(databaseUrl);
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(`SELECT nspname AS name FROM pg_namespace WHERE nspname = $1 OR starts_with(nspname, $2)`, [
      schema,
      `${schema}:`,
    ]);
    for (const { name } of rows) await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(name)} CASCADE`);
  } finally {
    await client.end();
  }
}

if (isMain(import.meta.url)) {
  const figure = await runAnnalsReplay();
  console.log(`Annals replay: ${formatRate(figure.eventsPerSecond)} events/s (${formatRate(figure.events)} events in ${figure.seconds.toFixed(1)} s)`);
}
