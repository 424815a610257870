/**
 * Figure: reading the whole global log, oldest first, in pages, and the peak memory of
 * the reading process. Annals' log is written once (by Annals) and read by Annals'
 * iterateAll and by the raw-pg keyset readers: same rows, same table, same pages.
 * Emmett reads a log of the same events written by Emmett in its own database.
 * Run alone: `npx tsx bench/read-all.ts`.
 */
import { contestantLabels, contestantNames, type ContestantName } from './contestants/index.js';
import { freshTarget, runIfMain } from './figures.js';
import pg from 'pg';
import {
  adminQuery,
  databaseUrl,
  formatMiB,
  formatRate,
  quoteIdent,
  settings,
  urlForDatabase,
  withTarget,
  type Target,
} from './harness.js';
import { runIsolated } from './isolated-process.js';
import { median } from './median.js';
import type { FigureResult } from './results.js';

/** Events per append while filling the logs (not measured). */
const loadBatch = 1_000;

export async function runReadAll(): Promise<FigureResult[]> {
  const result: FigureResult = {
    id: 'read-all',
    title: `read the global log (${settings.readEvents.toLocaleString('en-US')} events, pages of ${settings.readBatchSize})`,
    eventsPerSecond: {},
    samples: {},
    peakRssBytes: {},
    baselineRssBytes: {},
    peakHeapBytes: {},
    notes: [],
  };
  const partialReads: Partial<Record<ContestantName, number[]>> = {};
  await withTarget(freshTarget('annals'), (annalsLog) =>
    withTarget(freshTarget('emmett'), async (emmettLog) => {
      for (const [writer, target] of [['annals', annalsLog], ['emmett', emmettLog]] as const) {
        const load = await runIsolated({ kind: 'load', contestant: writer, target, events: settings.readEvents, eventsPerAppend: loadBatch });
        console.log(`  loaded ${formatRate(load.events)} events with ${contestantLabels[writer]} (${formatRate(load.eventsPerSecond)} events/s)`);
        await settle(target);
      }
      // Rounds in a rotating order, as for appends: a noisy moment hits every reader alike.
      for (let round = 0; round < settings.readRounds; round++) {
        for (let turn = 0; turn < contestantNames.length; turn++) {
          const reader = contestantNames[(turn + round) % contestantNames.length]!;
          await measureRead(reader, reader === 'emmett' ? emmettLog : annalsLog, result, partialReads);
        }
      }
    }),
  );
  for (const [reader, counts] of Object.entries(partialReads) as [ContestantName, number[]][]) {
    result.notes.push(
      `${contestantLabels[reader]} was stopped after ${settings.readMaxMs / 1000} s in each read, having read ` +
        `${counts.map(formatRate).join(' / ')} of ${formatRate(settings.readEvents)} events; its rate is over what it read.`,
    );
  }
  for (const [reader, samples] of Object.entries(result.samples!) as [ContestantName, number[]][]) {
    result.eventsPerSecond[reader] = median(samples);
    console.log(`  read: ${contestantLabels[reader]} ${formatRate(median(samples))} events/s, peak RSS ${formatMiB(result.peakRssBytes![reader])}`);
  }
  return [result];
}

/** One read in a fresh process; keeps the highest peak RSS seen over the rounds. */
async function measureRead(
  reader: ContestantName,
  target: Target,
  result: FigureResult,
  partialReads: Partial<Record<ContestantName, number[]>>,
): Promise<void> {
  const label = contestantLabels[reader];
  try {
    const read = await runIsolated({
      kind: 'read',
      contestant: reader,
      target,
      batchSize: settings.readBatchSize,
      warmupEvents: settings.readWarmupEvents,
      maxMs: settings.readMaxMs,
    });
    (result.samples![reader] ??= []).push(read.eventsPerSecond);
    // The highest peak over the rounds, with the baseline and heap of that same read.
    if (read.peakRssBytes > (result.peakRssBytes![reader] ?? 0)) {
      result.peakRssBytes![reader] = read.peakRssBytes;
      result.baselineRssBytes![reader] = read.baselineRssBytes;
      result.peakHeapBytes![reader] = read.peakHeapBytes;
    }
    if (read.events < settings.readEvents) (partialReads[reader] ??= []).push(read.events);
    console.log(`  read: ${label} ${formatRate(read.eventsPerSecond)} events/s, peak RSS ${formatMiB(read.peakRssBytes)}`);
  } catch (error) {
    result.notes.push(`${label} failed: ${(error as Error).message.split('\n')[0]}`);
    console.error(`  read: ${label} failed`, error);
  }
}

/**
 * Readers get the same start: fresh statistics and visibility map (autovacuum may or
 * may not have run yet), and every loaded event visible to a snapshot-bounded reader.
 * A transaction left open elsewhere on the server holds that bound back, so wait for it.
 */
export async function settle(target: Target): Promise<void> {
  const url = 'database' in target ? urlForDatabase(target.database) : databaseUrl;
  const table = 'schema' in target ? `${quoteIdent(target.schema)}.events` : 'emt_messages';
  const visible =
    'schema' in target
      ? `global_position < (pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 20)`
      : `transaction_id < pg_snapshot_xmin(pg_current_snapshot())`;
  await adminQuery([`VACUUM ANALYZE ${table}`], url);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE ${visible}`);
      if (Number(rows[0]?.n) >= settings.readEvents || Date.now() > deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await client.end();
  }
}

await runIfMain(import.meta.url, runReadAll);
