/**
 * The projection figures: replay rate of the like-counts projection, side by side with
 * the same aggregation in one SQL statement (the practical limit) and with Emmett's own
 * projection rebuild; and append-to-read-model latency under a steady load.
 * Run alone: `npx tsx bench/projections/figures.ts`.
 */
import { dropStoreSchemas, formatMs, formatRate, formatTimes, freshName, markdownTable, type Throughput } from '../harness.js';
import { isMain } from '../is-main.js';
import { measureAnnalsReplay } from '../replay/annals-replay.js';
import { runEmmettReplay } from '../replay/emmett-replay.js';
import { defaultWorkload, expectedLikeCounts, type LikeWorkloadOptions } from '../replay/events.js';
import { loadAnnalsLikes, measureRawSqlReplay } from '../replay/raw-sql-replay.js';
import { runLatency, type LatencyFigure } from './latency.js';
import { runLivePath, summarize as summarizeLivePath, type LivePathFigure } from './live-path.js';

export interface ProjectionFigures {
  workload: LikeWorkloadOptions;
  emmettWorkload: LikeWorkloadOptions;
  annals: Throughput;
  rawSql: Throughput;
  emmett: Throughput;
  latency: LatencyFigure;
  /** The worker's live batches against a raw pg loop (live-path.ts). */
  live: LivePathFigure;
}

/**
 * Emmett's replay runs at about 1,200 events/s on a million events (about 14 minutes),
 * and is faster on a smaller log (each of its pulls scans the whole log): it replays
 * 100,000 events by default, which flatters it. `REPLAY_EMMETT_EVENTS` changes that.
 */
function emmettWorkload(workload: LikeWorkloadOptions): LikeWorkloadOptions {
  const events = Number(process.env.REPLAY_EMMETT_EVENTS ?? 100_000);
  return { ...workload, events, posts: Math.max(1, Math.round((workload.posts * events) / workload.events)) };
}

export async function runProjectionFigures(): Promise<ProjectionFigures> {
  const workload = defaultWorkload();
  const schema = freshName('replay');
  let annals: Throughput;
  let rawSql: Throughput;
  try {
    const load = await loadAnnalsLikes({ schema, workload });
    console.log(`  replay: loaded ${formatRate(load.events)} like events into Annals (${formatRate(load.eventsPerSecond)} events/s)`);
    const expected = expectedLikeCounts(workload);
    rawSql = await measureRawSqlReplay({ schema, expected });
    console.log(`  replay: raw SQL INSERT ... SELECT ... GROUP BY ${formatRate(rawSql.eventsPerSecond)} events/s`);
    annals = await measureAnnalsReplay({ schema, expected });
    console.log(`  replay: Annals ${formatRate(annals.eventsPerSecond)} events/s`);
  } finally {
    await dropStoreSchemas(schema);
  }
  const small = emmettWorkload(workload);
  const emmett = await runEmmettReplay(small);
  const latency = await runLatency();
  console.log(`  latency at ${latency.eventsPerSecond} events/s: p50 ${formatMs(latency.p50Ms)} ms, p99 ${formatMs(latency.p99Ms)} ms`);
  const live = await runLivePath();
  return { workload, emmettWorkload: small, annals: annals!, rawSql: rawSql!, emmett, latency, live };
}

export function renderProjectionsSummary(f: ProjectionFigures): string {
  const verdict = (met: boolean) => (met ? 'met' : 'NOT met');
  return markdownTable(
    ['figure', 'Annals', 'raw SQL (one INSERT ... SELECT)', 'Emmett 0.42', 'Annals / raw SQL', 'Annals / Emmett'],
    [
      [
        `replay like-counts: events/s (Annals and SQL: ${formatRate(f.workload.events)} events; Emmett: ${formatRate(f.emmettWorkload.events)})`,
        formatRate(f.annals.eventsPerSecond),
        formatRate(f.rawSql.eventsPerSecond),
        formatRate(f.emmett.eventsPerSecond),
        formatTimes(f.annals.eventsPerSecond / f.rawSql.eventsPerSecond),
        formatTimes(f.annals.eventsPerSecond / f.emmett.eventsPerSecond),
      ],
      [
        `append-to-read-model latency at ${f.latency.eventsPerSecond} events/s: p50 / p99 / max (ms)`,
        `${formatMs(f.latency.p50Ms)} / ${formatMs(f.latency.p99Ms)} / ${formatMs(f.latency.maxMs)}`,
        '',
        '',
        '',
        '',
      ],
    ],
    ['left', 'right', 'right', 'right', 'right', 'right'],
  ) +
    `\n\n${renderLivePath(f.live)}` +
    `\n\n- Replay >= 50,000 events/s: ${formatRate(f.annals.eventsPerSecond)} -> ${verdict(f.annals.eventsPerSecond >= 50_000)}` +
    `\n- Replay >= 2x Emmett: ${formatTimes(f.annals.eventsPerSecond / f.emmett.eventsPerSecond)} -> ${verdict(f.annals.eventsPerSecond >= 2 * f.emmett.eventsPerSecond)}` +
    `\n- Latency p99 < 50 ms: ${formatMs(f.latency.p99Ms)} ms -> ${verdict(f.latency.p99Ms < 50)}` +
    `\n- Live path >= 0.6x the raw loop (same round): ${formatTimes(summarizeLivePath(f.live).ratio)} -> ${verdict(summarizeLivePath(f.live).ratio >= 0.6)}`;
}

function renderLivePath(live: LivePathFigure): string {
  const { annals, raw, ratio, ratios } = summarizeLivePath(live);
  return markdownTable(
    ['live path: events/s (median)', 'Annals worker', 'raw pg loop', 'Annals / raw, same round'],
    [
      [
        `${formatRate(live.workload.events)} new events on ${formatRate(live.workload.posts)} posts, batches of 500`,
        formatRate(annals),
        formatRate(raw),
        `${formatTimes(ratio)} (rounds ${ratios.map((r) => formatTimes(r)).join(', ')})`,
      ],
    ],
    ['left', 'right', 'right', 'right'],
  );
}

const liveRounds = (f: ProjectionFigures) => f.live.annals.length;

export function renderProjectionsSection(f: ProjectionFigures): string {
  return `## Projections

${renderProjectionsSummary(f)}

### How the projection figures are measured

- **Workload.** ${formatRate(f.workload.events)} like events (\`LikeCreated\`, and \`LikeRemoved\` taking back an
  earlier like) over ${formatRate(f.workload.posts)} posts, one stream per post, generated deterministically
  (\`bench/replay/events.ts\`), with the expected count per post computed in JS: every contestant's
  read model is checked against it exactly.
- **Annals** (\`bench/replay/annals-replay.ts\`): the example projection \`projections/like-counts\`. Version 1
  is caught up first (not measured); then version 2 runs: a rebuild by replay into a new generation,
  through the projection's set-based \`replayBatch\` (one \`INSERT ... SELECT FROM unnest(...) ON
  CONFLICT\` per batch of 5,000 events, each batch in one transaction with its checkpoint), until readers
  are switched to it. Every event is read, upcast and validated by the projection's zod schemas.
- **Raw SQL** (\`bench/replay/raw-sql-replay.ts\`): the practical limit, on the same Annals log: one
  \`INSERT INTO like_counts SELECT data->>'postId', sum(±1) FROM events WHERE ... GROUP BY 1\`, median
  of 3 rounds. No checkpoint, no batches, no validation: Postgres reads the log once.
- **Emmett 0.42** (\`bench/replay/emmett-replay.ts\`): \`rebuildPostgreSQLProjections\` with a
  \`postgreSQLRawBatchSQLProjection\` (its cheapest projection: one upsert per call, no reads), pulls of
  10,000 events with no pause between pulls, on a log of ${formatRate(f.emmettWorkload.events)} events in its own
  database, loaded one append at a time. Emmett 0.42 hands the projection one event per call, with a
  checkpoint update each. Its log has no index on the column each pull sorts by, so it slows down as the
  log grows (about 2,500 events/s at 100,000 events, 1,200 at 1,000,000 when measured while writing this
  suite): the smaller log flatters it.
  Loaded with concurrent appends, Emmett 0.42's rebuild skipped events (it resumes each pull after the
  last position it saw, and positions come from a sequence, so a transaction that commits late lands
  below it): with 8 appends in flight at 100,000 events one rebuild was handed 86,489 of them. Annals'
  log is loaded with 4 transactions in flight; its readers never skip (docs/global-log.md).
- **Live path** (\`bench/projections/live-path.ts\`): a projection already caught up when
  ${formatRate(f.live.workload.events)} new like events on ${formatRate(f.live.workload.posts)} posts arrive, worked off by
  \`runProjections\` with its defaults (its live batches of 500, not a replay), timed from the worker's start to the
  batch that reaches the log's head; against the practical limit, a raw \`pg\` loop doing the same work by hand
  on the same log (per batch of 500, one transaction: the page, bounded as Annals' reads are, the deltas summed in
  JS, one upsert, the checkpoint). Both read models are checked; ${liveRounds(f)} rounds, alternating.
- **Latency** (\`bench/projections/latency.ts\`): ${f.latency.eventsPerSecond} single-event appends per second from 4
  writers on a fixed schedule, for ${f.latency.seconds} s after 3 s of warm-up, while a worker in its own process runs the
  like-counts projection with the default settings (LISTEN/NOTIFY, batches of up to 500). An event's
  latency runs from the start of its append call to the commit of the first batch whose checkpoint
  covers it. ${formatRate(f.latency.events)} events measured.
- The log's visibility bound waits for the oldest transaction holding an id anywhere on the server
  (docs/global-log.md): a long transaction elsewhere raises the latency of every reader. Nothing else
  ran on the server during these figures.
`;
}

if (isMain(import.meta.url)) console.log(`\n${renderProjectionsSummary(await runProjectionFigures())}`);
