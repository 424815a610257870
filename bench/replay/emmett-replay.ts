/**
 * Projection replay, Emmett 0.42: the like_counts read model rebuilt from the whole log
 * of Emmett's own Postgres event store by Emmett's own projection machinery.
 *
 * API: `rebuildPostgreSQLProjections({ connectionString, projections: [likeCounts],
 * pulling: { batchSize, pullingFrequencyInMs: 0 } })`, then `await consumer.start()`.
 * It is Emmett's own API for exactly this job: a `postgreSQLEventStoreConsumer`
 * with `stopWhen: { noMessagesLeft: true }` and one `postgreSQLProjector` per projection
 * (truncateOnStart, processor lock, checkpoints), which reads the log from the beginning
 * (no checkpoint yet) until it has caught up, then stops.
 *
 * The projection is `postgreSQLRawBatchSQLProjection`, the cheapest kind Emmett has: its
 * `evolve` gets events and returns SQL, which Emmett runs in the batch's transaction. No
 * document is read first (as Pongo projections do: find, then upsert), and the evolve
 * folds whatever events it is handed into one upsert statement. In 0.42 the projector
 * hands it one event at a time (`projector` calls `projection.handle([event])` per
 * message and stores the checkpoint after each), so what Emmett does per pulled batch is:
 * BEGIN; per event: the upsert, then `store_processor_checkpoint(...)`; COMMIT.
 *
 * Configuration, chosen to give Emmett its best fair run:
 * - `pullingFrequencyInMs: 0`: the puller sleeps this long after every batch even while
 *   catching up (default 50 ms); a rebuild has no reason to wait. (It still sleeps 100 ms
 *   after the first batch: that wait is fixed in 0.42.)
 * - `batchSize` (REPLAY_EMMETT_BATCH, default 10,000; Emmett's default is 100): each pull
 *   is `readMessagesBatch`, whose `ORDER BY transaction_id, global_position` has no index
 *   on `emt_messages`, so every pull scans and sorts the whole log; fewer, larger pulls
 *   are much cheaper. 10,000 events per transaction is still an ordinary transaction.
 *   At 100,000 events: 2,497 events/s with pulls of 10,000, 1,809 with pulls of 1,000.
 *
 * Measured: from `consumer.start()` until it resolves, i.e. the projection's init (its
 * registration and CREATE TABLE), the processor lock, every pull, evolve, upsert and
 * checkpoint, and the processor's close. Not measured: loading the log (Emmett's own
 * `appendToStream`, about 10 events of one stream per call, one call at a time: see
 * loadConcurrency), VACUUM ANALYZE of the log afterwards (as the read figure does), and
 * checking the counts.
 *
 * Run alone: `npx tsx bench/replay/emmett-replay.ts` (REPLAY_EVENTS=100000 for a quick run).
 */
import { sql, type SQL } from '@event-driven-io/dumbo';
import type { Event } from '@event-driven-io/emmett';
import { postgreSQLRawBatchSQLProjection, rebuildPostgreSQLProjections } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import { openEmmettStore } from '../contestants/emmett.js';
import { adminQuery, formatRate, freshName, now, urlForDatabase, withTarget, type Throughput } from '../harness.js';
import { isMain } from '../is-main.js';
import { defaultWorkload, expectedLikeCounts, likeSegments, loadSegments, verifyLikeCounts, type LikeWorkloadOptions } from './events.js';

type EmmettLikeEvent =
  | Event<'LikeCreated', { postId: string; userId: string; source?: string }>
  | Event<'LikeRemoved', { postId: string; userId: string }>;

/** Events per pull of the log (Emmett's default is 100; see the comment at the top). */
const batchSize = Number.parseInt(process.env.REPLAY_EMMETT_BATCH ?? '', 10) || 10_000;

/**
 * Appends in flight while loading (setup). One, because Emmett 0.42 cannot replay a log
 * that was written concurrently: `emt_messages.global_position` comes from a sequence at
 * insert time, while readers order by `transaction_id, global_position` and resume each
 * pull after the last position seen. A transaction that took its id later but inserted
 * first has the higher id and the lower positions: read after the other, it falls
 * behind the resume point and is skipped (by the next pull's `global_position >= ...`
 * and by the projector's checkpoint check). With 8 appends in flight and 100,000 events,
 * one rebuild was handed only 86,489 of them and its read model lacked 1,260 of 9,998
 * posts (another run: 1,631). REPLAY_EMMETT_LOAD_CONCURRENCY=8 reproduces it.
 */
const loadConcurrency = Number.parseInt(process.env.REPLAY_EMMETT_LOAD_CONCURRENCY ?? '', 10) || 1;

const likeCountsTable = 'like_counts';

/** What the measured rebuild saw, to show how Emmett handed the events over. */
interface ReplayStats {
  evolveCalls: number;
  eventsEvolved: number;
}

/**
 * The read model as an Emmett projection: the events it is handed are folded per post
 * into one `INSERT ... ON CONFLICT DO UPDATE` adding each post's net change.
 */
function likeCountsProjection(stats: ReplayStats) {
  return postgreSQLRawBatchSQLProjection<EmmettLikeEvent>({
    name: 'like_counts',
    canHandle: ['LikeCreated', 'LikeRemoved'],
    init: () => sql(`CREATE TABLE IF NOT EXISTS ${likeCountsTable} (post_id text PRIMARY KEY, likes integer NOT NULL)`),
    evolve: (events): SQL[] => {
      stats.evolveCalls += 1;
      stats.eventsEvolved += events.length;
      const change = new Map<string, number>();
      for (const event of events) {
        change.set(event.data.postId, (change.get(event.data.postId) ?? 0) + (event.type === 'LikeCreated' ? 1 : -1));
      }
      if (change.size === 0) return [];
      const rows = [...change].map(([postId, delta]) => sql('(%L, %s)', postId, delta)).join(', ');
      return [
        sql(
          `INSERT INTO ${likeCountsTable} AS c (post_id, likes) VALUES %s
           ON CONFLICT (post_id) DO UPDATE SET likes = c.likes + EXCLUDED.likes`,
          rows,
        ),
      ];
    },
  });
}

/**
 * Creates Emmett's schema in the (empty) database at `connectionString` and appends the
 * workload with Emmett's `appendToStream`, one call per stream and segment (about 10
 * events), `loadConcurrency` calls in flight (one by default). Setup, not a figure.
 */
export async function loadEmmettLikes(connectionString: string, workload: LikeWorkloadOptions): Promise<Throughput & { appends: number }> {
  const emmett = await openEmmettStore(connectionString, loadConcurrency);
  let events = 0;
  let appends = 0;
  const started = now();
  try {
    for (const segment of likeSegments(workload, loadSegments(workload))) {
      // The streams of a segment are disjoint, so appends in flight (if several) never
      // touch one stream.
      const groups = [...segment];
      let next = 0;
      const worker = async () => {
        for (let index = next++; index < groups.length; index = next++) {
          const [streamId, streamEvents] = groups[index]!;
          await emmett.store.appendToStream<EmmettLikeEvent>(streamId, streamEvents);
        }
      };
      await Promise.all(Array.from({ length: loadConcurrency }, worker));
      for (const [, streamEvents] of groups) events += streamEvents.length;
      appends += groups.length;
    }
  } finally {
    await emmett.close();
  }
  const seconds = (now() - started) / 1000;
  return { events, appends, seconds, eventsPerSecond: events / seconds };
}

/**
 * Rebuilds like_counts with `rebuildPostgreSQLProjections` over the log at
 * `connectionString` (measured, see the top of this file), then checks the counts.
 */
export async function measureEmmettReplay(connectionString: string, expected: Map<string, number>): Promise<Throughput & ReplayStats> {
  // Hint bits and statistics settled before the clock starts, as for every contestant.
  await adminQuery(['VACUUM ANALYZE emt_messages'], connectionString);
  const stats: ReplayStats = { evolveCalls: 0, eventsEvolved: 0 };
  const consumer = rebuildPostgreSQLProjections<EmmettLikeEvent>({
    connectionString,
    projections: [likeCountsProjection(stats)],
    pulling: { batchSize, pullingFrequencyInMs: 0 },
  });
  let seconds: number;
  try {
    const started = now();
    await consumer.start();
    seconds = (now() - started) / 1000;
  } finally {
    await consumer.close();
  }
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const { rows } = await client.query<{ post_id: string; likes: number }>(`SELECT post_id, likes FROM ${likeCountsTable}`);
    const logged = await client.query<{ n: string }>(`SELECT count(*) AS n FROM emt_messages`);
    try {
      verifyLikeCounts(rows, expected);
    } catch (error) {
      // Say how many events the projection was handed: fewer than logged means skipped.
      throw new Error(`${(error as Error).message} (projection handed ${stats.eventsEvolved} of ${logged.rows[0]?.n} events)`);
    }
  } finally {
    await client.end();
  }
  return { events: stats.eventsEvolved, seconds, eventsPerSecond: stats.eventsEvolved / seconds, ...stats };
}

/** The whole contestant on a fresh database, dropped afterwards: load, then measure. */
export async function runEmmettReplay(workload: LikeWorkloadOptions = defaultWorkload()): Promise<Throughput> {
  const expected = expectedLikeCounts(workload);
  return withTarget({ database: freshName('emmett_replay') }, async (target) => {
    const connectionString = urlForDatabase((target as { database: string }).database);
    const load = await loadEmmettLikes(connectionString, workload);
    console.log(
      `  Emmett replay: loaded ${formatRate(load.events)} events (${formatRate(load.appends)} appends) into Emmett in ` +
        `${load.seconds.toFixed(1)} s (${formatRate(load.eventsPerSecond)} events/s)`,
    );
    const replay = await measureEmmettReplay(connectionString, expected);
    console.log(
      `  Emmett replay: ${formatRate(replay.eventsPerSecond)} events/s (${replay.seconds.toFixed(1)} s for ` +
        `${formatRate(replay.events)} events; pulls of ${formatRate(batchSize)}, ${formatRate(replay.evolveCalls)} evolve calls)`,
    );
    const { events, seconds, eventsPerSecond } = replay;
    return { events, seconds, eventsPerSecond };
  });
}

if (isMain(import.meta.url)) await runEmmettReplay();
