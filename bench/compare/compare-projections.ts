/**
 * The projection figures of a comparison (bench/compare/run-compare.ts), from the suite's
 * own code: the like-counts projection caught up by a worker from the start of a log and
 * then rebuilt by replay (bench/replay/annals-replay.ts, run in a process of its own per
 * side and round: bench/replay/replay-task.ts), with the one-statement raw SQL rebuild
 * (bench/replay/raw-sql-replay.ts) as the yardstick; and append-to-read-model latency
 * (bench/projections/latency.ts). Every part of Annals in them, the store, the worker and
 * the projection's definition, comes from the side's own checkout.
 */
import { dropStoreSchemas, formatMs, formatRate, freshName, intFromEnv } from '../harness.js';
import { runIsolated } from '../isolated-process.js';
import { median } from '../median.js';
import { runLatency } from '../projections/latency.js';
import type { ReplayThroughput } from '../replay/annals-replay.js';
import { defaultWorkload, expectedLikeCounts, type LikeWorkloadOptions } from '../replay/events.js';
import { measureRawSqlReplay } from '../replay/raw-sql-replay.js';
import type { ReplayTask } from '../replay/replay-task.js';
import { label, sides, type CompareFigure, type Side, type Versions } from './compare-figures.js';

/** Runs of the catch-up and rebuild per side, interleaved; the figure is the median. */
export const replayRounds = intFromEnv('BENCH_REPLAY_ROUNDS', 5);
/** Latency runs per side, interleaved. */
export const latencyRounds = intFromEnv('BENCH_LATENCY_ROUNDS', 3);

/**
 * The like workload of the comparison: 200,000 events over 2,000 posts unless
 * REPLAY_EVENTS (and REPLAY_POSTS) say otherwise; the suite's million would take a
 * loaded 2-core machine minutes per side and round.
 */
function compareWorkload(): LikeWorkloadOptions {
  const workload = defaultWorkload();
  return process.env.REPLAY_EVENTS ? workload : { ...workload, events: 200_000, posts: 2_000 };
}

/** Events per live batch of the catch-up: the worker's default. */
const catchUpBatchSize = 500;

export async function runProjectionCompare(versions: Versions): Promise<CompareFigure[]> {
  return [...(await runReplayFigures(versions)), ...(await runLatencyFigures(versions))];
}

/**
 * Catch-up and rebuild. Each version sets up one like-counts projection per round on an
 * empty schema of its own, then loads the same workload there with its own store (its
 * migrations differ). Then, round by round in a rotating order: each version, in a fresh
 * process, catches that round's projection up from the start of its log (a worker's live
 * batches of 500, `applyBatch`) and rebuilds it at version 2 (replay batches of 5,000,
 * `replayBatch`), both read models checked; the raw SQL rebuild runs on this version's log.
 */
async function runReplayFigures(versions: Versions): Promise<CompareFigure[]> {
  const workload = compareWorkload();
  const events = `${formatRate(workload.events)} events`;
  const catchUp: CompareFigure = { title: `projection catch-up by a worker, like-counts, ${events}, live batches of ${catchUpBatchSize}`, samples: {}, notes: [] };
  const rebuild: CompareFigure = {
    title: `projection rebuild by replay, like-counts, ${events}, batches of 5,000`,
    samples: {},
    notes: ['The rebuild\'s yardstick is the raw SQL rebuild, one `INSERT ... SELECT ... GROUP BY` on this version\'s log (bench/replay/raw-sql-replay.ts); the catch-up has none.'],
  };
  // One projection per round, set up before the log is loaded: each round catches a
  // projection up from the log's start through live batches.
  const names = Array.from({ length: replayRounds }, (_, round) => `like-counts-r${round}`);
  const tasks: Record<'previous' | 'current', ReplayTask> = {
    previous: { kind: 'replay', contestant: 'annals', target: { schema: freshName('replay_previous') }, workload, annalsRoot: versions.previous.annalsRoot },
    current: { kind: 'replay', contestant: 'annals', target: { schema: freshName('replay_current') }, workload, annalsRoot: versions.current.annalsRoot },
  };
  try {
    for (const side of ['previous', 'current'] as const) {
      const load = await runIsolated(tasks[side], { action: 'load', projections: names });
      console.log(`  replay: loaded ${formatRate(load.events)} like events with ${label(side, versions)} (${formatRate(load.eventsPerSecond)} events/s)`);
    }
    const expected = expectedLikeCounts(workload);
    for (let round = 0; round < replayRounds; round++) {
      for (let turn = 0; turn < sides.length; turn++) {
        const side = sides[(turn + round) % sides.length]!;
        try {
          if (side === 'raw-pg') {
            const raw = await measureRawSqlReplay({ schema: tasks.current.target.schema, expected, rounds: 1 });
            (rebuild.samples['raw-pg'] ??= []).push(raw.eventsPerSecond);
            continue;
          }
          const run = (await runIsolated(tasks[side], { action: 'measure', name: names[round]!, catchUpBatchSize })) as ReplayThroughput;
          (catchUp.samples[side] ??= []).push(run.catchUp.eventsPerSecond);
          (rebuild.samples[side] ??= []).push(run.eventsPerSecond);
        } catch (error) {
          rebuild.notes.push(`${label(side, versions)} failed in round ${round + 1}: ${(error as Error).message.split('\n')[0]}`);
          console.error(`  replay: ${label(side, versions)} failed`, error);
        }
      }
    }
  } finally {
    for (const task of Object.values(tasks)) await dropStoreSchemas(task.target.schema);
  }
  for (const figure of [catchUp, rebuild]) logFigure(figure, versions, formatRate);
  return [catchUp, rebuild];
}

/**
 * Append-to-read-model latency (bench/projections/latency.ts: single-event appends at a
 * fixed rate from 4 writers, the like-counts worker in a process of its own with its
 * default settings), each run on a fresh schema, sides alternating run by run.
 */
async function runLatencyFigures(versions: Versions): Promise<CompareFigure[]> {
  // Shorter runs than the suite's 20 s, more of them.
  const seconds = process.env.LATENCY_SECONDS ? undefined : 10;
  const p50: CompareFigure = { title: 'append-to-read-model latency, p50', unit: 'ms', samples: {}, notes: [] };
  const p99: CompareFigure = { title: 'append-to-read-model latency, p99', unit: 'ms', samples: {}, notes: [] };
  let described = false;
  for (let round = 0; round < latencyRounds; round++) {
    for (let turn = 0; turn < 2; turn++) {
      const side = (['previous', 'current'] as const)[(turn + round) % 2]!;
      try {
        const figure = await runLatency({ annalsRoot: versions[side].annalsRoot, ...(seconds ? { seconds } : {}) });
        (p50.samples[side] ??= []).push(figure.p50Ms);
        (p99.samples[side] ??= []).push(figure.p99Ms);
        if (!described) {
          p50.notes.push(`Latency: ${figure.eventsPerSecond} single-event appends per second for ${figure.seconds} s (after 3 s of warm-up) per run, ${latencyRounds} run(s) per side.`);
          described = true;
        }
      } catch (error) {
        p50.notes.push(`${label(side, versions)}'s latency run ${round + 1} failed: ${(error as Error).message.split('\n')[0]}`);
        console.error(`  latency: ${label(side, versions)} failed`, error);
      }
    }
  }
  for (const figure of [p50, p99]) logFigure(figure, versions, formatMs);
  return [p50, p99];
}

function logFigure(figure: CompareFigure, versions: Versions, format: (value: number) => string): void {
  for (const [side, values] of Object.entries(figure.samples) as [Side, number[]][]) {
    console.log(`  ${figure.title}: ${label(side, versions)} ${format(median(values))} ${figure.unit ?? 'events/s'} (runs: ${values.map(format).join(', ')})`);
  }
}
