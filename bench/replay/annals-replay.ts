/**
 * Projection replay through Annals: the like-counts example projection
 * (projections/like-counts) rebuilt by replay, as after a bug fix. Version 1 is caught up
 * first (timed as well: bench:compare reports it; the suite's figure is the rebuild);
 * then version 2 is run with `catchUpProjections`, which replays
 * the whole log into a new generation through the projection's set-based `replayBatch`
 * (batches of `replayBatchSize` events, default 5,000, each in one transaction with its
 * checkpoint) and switches readers to it. Measured: from the call until it returns,
 * switch included. The rebuilt counts are checked against the workload's.
 *
 * Run alone: `npx tsx bench/replay/annals-replay.ts` (REPLAY_EVENTS=100000 for a quick run).
 */
import { loadAnnals, loadLikeCounts } from '../annals-api.js';
import { adminQuery, databaseUrl, dropStoreSchemas, formatRate, freshName, now, quoteIdent, type Throughput } from '../harness.js';
import { isMain } from '../is-main.js';
import { defaultWorkload, expectedLikeCounts, verifyLikeCounts, type LikeWorkloadOptions } from './events.js';

/** The rebuild's rate, and the catch-up's that built the first generation before it. */
export interface ReplayThroughput extends Throughput {
  catchUp: Throughput;
}

/**
 * The API of the working tree (or of the checkout at `annalsRoot`: bench/compare) and the
 * example projection as that version defines it, under `name` when given: a projection
 * of its own, with generations and a read schema of its own.
 */
export async function likeCountsNamed(annalsRoot: string | undefined, name?: string) {
  const [annals, { likeCounts }] = await Promise.all([loadAnnals(annalsRoot), loadLikeCounts(annalsRoot)]);
  return { annals, projection: name === undefined ? likeCounts : annals.defineProjection({ ...likeCounts.definition, name }) };
}

/**
 * Catches version 1 up (timed), then rebuilds version 2 (timed: the figure); both read
 * models are checked against `expected`. A projection first set up on the log (by the
 * suite's figure) builds its first generation by replay; one set up before the log was
 * loaded (`name`, bench/compare) catches up through a worker's live batches.
 */
export async function measureAnnalsReplay(options: {
  schema: string;
  expected: Map<string, number>;
  replayBatchSize?: number;
  /** Events per live batch of the catch-up; default 5,000 (the worker's own default is 500). */
  catchUpBatchSize?: number;
  name?: string;
  annalsRoot?: string;
}): Promise<ReplayThroughput> {
  const { annals, projection: version1 } = await likeCountsNamed(options.annalsRoot, options.name);
  // Version 2 of the example projection: the same code, bumped as after a fix.
  const version2 = annals.defineProjection({ ...version1.definition, version: 2 });
  await adminQuery([`VACUUM ANALYZE ${quoteIdent(options.schema)}.events`]);
  const store = annals.createEventStore({ connectionString: databaseUrl, maxConnections: 4 }, { schema: options.schema });
  const verify = async (projection: typeof version1) => {
    const table = `${quoteIdent(annals.readSchemaOf(store.schema, projection))}.like_counts`;
    const rows = await store.withTransaction((tx) => tx.query<{ post_id: string; likes: number }>(`SELECT post_id, likes FROM ${table}`));
    verifyLikeCounts(rows, options.expected);
  };
  try {
    const events = Number(
      (
        await store.withTransaction((tx) =>
          tx.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteIdent(options.schema)}.events WHERE type IN ('LikeCreated', 'LikeRemoved')`),
        )
      )[0]!.n,
    );
    const timed = async (work: () => Promise<void>): Promise<Throughput> => {
      const started = now();
      await work();
      const seconds = (now() - started) / 1000;
      return { events, seconds, eventsPerSecond: events / seconds };
    };
    // Version 1's first generation: live from its creation, what the log held then replayed.
    const catchUp = await timed(() =>
      annals.catchUpProjections(store, [version1], { batchSize: options.catchUpBatchSize ?? 5000, timeoutMs: 30 * 60_000 }),
    );
    await verify(version1);
    const rebuild = await timed(() =>
      annals.catchUpProjections(store, [version2], {
        ...(options.replayBatchSize ? { replayBatchSize: options.replayBatchSize } : {}),
        timeoutMs: 30 * 60_000,
      }),
    );
    await verify(version2);
    return { ...rebuild, catchUp };
  } finally {
    await store.close();
  }
}

/** Loads the workload into a fresh schema, measures the rebuild, drops everything. */
export async function runAnnalsReplay(workload: LikeWorkloadOptions = defaultWorkload()): Promise<ReplayThroughput> {
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

if (isMain(import.meta.url)) {
  const figure = await runAnnalsReplay();
  console.log(`Annals replay: ${formatRate(figure.eventsPerSecond)} events/s (${formatRate(figure.events)} events in ${figure.seconds.toFixed(1)} s)`);
}
