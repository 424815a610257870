/**
 * The figures of a comparison between two versions of Annals (bench/compare/run-compare.ts):
 * the same appends and reads as bench/append-*.ts and bench/read-all.ts, with "previous"
 * (Annals extracted from a baseline commit) and "current" (the working tree, or another
 * commit) as entrants, and the hand-written raw-pg statement, whose code is the same on
 * both sides, as a yardstick of the machine's noise.
 */
import type { ContestantName } from '../contestants/index.js';
import { freshTarget, interleavedAppends, type AppendEntrant } from '../figures.js';
import { formatRate, settings, withTarget, type Target } from '../harness.js';
import { runIsolated } from '../isolated-process.js';
import { median } from '../median.js';
import { settle } from '../read-all.js';

export type Side = 'previous' | 'current' | 'raw-pg';
export const sides: readonly Side[] = ['previous', 'current', 'raw-pg'];

/** Where each version of Annals comes from, and what the tables call it. */
export interface Versions {
  previous: { label: string; annalsRoot: string };
  /** annalsRoot undefined: the working tree. */
  current: { label: string; annalsRoot?: string };
}

export interface CompareFigure {
  title: string;
  /** What a sample counts: events/s when absent; ms are latencies (lower is better). */
  unit?: 'events/s' | 'commands/s' | 'requests/s' | 'ms';
  /**
   * Every measured window (or read, or run) by side, in the order they ran: index i is
   * round i. 'raw-pg' holds the figure's yardstick, code that is the same on both sides.
   */
  samples: Partial<Record<Side, number[]>>;
  notes: string[];
}

export const rawPgLabel = 'raw pg, code unchanged';

export function label(side: Side, versions: Versions): string {
  return side === 'raw-pg' ? rawPgLabel : versions[side].label;
}

/** The contestant and checkout a side runs. */
function sideTask(side: Side, versions: Versions): { contestant: ContestantName; annalsRoot?: string } {
  return side === 'raw-pg' ? { contestant: 'raw-pg' } : { contestant: 'annals', annalsRoot: versions[side].annalsRoot };
}

interface AppendFigure {
  title: string;
  concurrency: number;
  eventsPerAppend: number;
  streamsPerTransaction?: number;
  /** Left out for raw pg. */
  annalsOnly?: boolean;
}

/** The append figures: each side in a process of its own, windows interleaved. */
const appendFigures: readonly AppendFigure[] = [
  { title: 'single-event append, concurrency 1', concurrency: 1, eventsPerAppend: 1 },
  { title: 'single-event append, concurrency 16', concurrency: 16, eventsPerAppend: 1 },
  { title: 'batched append, 100 events per call', concurrency: 1, eventsPerAppend: 100 },
  // withTransaction has no raw-pg counterpart: the position probe for a transaction's
  // second append is Annals' own.
  { title: 'withTransaction, 2 streams x 1 event, concurrency 1', concurrency: 1, eventsPerAppend: 1, streamsPerTransaction: 2, annalsOnly: true },
];

export async function runAppendFigures(versions: Versions): Promise<CompareFigure[]> {
  const figures: CompareFigure[] = [];
  for (const { title, annalsOnly, ...load } of appendFigures) {
    const entrants: AppendEntrant<Side>[] = sides
      .filter((side) => !(annalsOnly && side === 'raw-pg'))
      .map((side) => ({ key: side, label: label(side, versions), task: { ...sideTask(side, versions), ...load } }));
    figures.push({ title, ...(await interleavedAppends(title, entrants)) });
  }
  return figures;
}

/** Events per append while filling the logs (not measured), as in bench/read-all.ts. */
const loadBatch = 1_000;

/**
 * Reading the whole global log. Each version reads a log that version wrote, in a schema
 * of its own: a version's reader runs its own migrate() on open, and a baseline that
 * predates a later migration may not accept a schema that has it (or the reverse). The
 * two logs are loaded alike (same events, 1,000 per append, VACUUM ANALYZE); raw pg reads
 * the current version's log. Reads rotate across sides round by round, each read in a
 * fresh process, as in bench/read-all.ts.
 */
export async function runReadFigure(versions: Versions): Promise<CompareFigure> {
  const figure: CompareFigure = {
    title: `read the global log (${settings.readEvents.toLocaleString('en-US')} events, pages of ${settings.readBatchSize})`,
    samples: {},
    notes: [],
  };
  await withTarget(freshTarget('annals'), (previousLog) =>
    withTarget(freshTarget('annals'), async (currentLog) => {
      const logs: Record<Side, Target> = { previous: previousLog, current: currentLog, 'raw-pg': currentLog };
      for (const side of ['previous', 'current'] as const) {
        const { annalsRoot } = sideTask(side, versions);
        const load = await runIsolated({ kind: 'load', contestant: 'annals', annalsRoot, target: logs[side], events: settings.readEvents, eventsPerAppend: loadBatch });
        console.log(`  loaded ${formatRate(load.events)} events with ${label(side, versions)} (${formatRate(load.eventsPerSecond)} events/s)`);
        await settle(logs[side]);
      }
      for (let round = 0; round < settings.readRounds; round++) {
        for (let turn = 0; turn < sides.length; turn++) {
          const side = sides[(turn + round) % sides.length]!;
          await measureRead(side, versions, logs[side], figure);
        }
      }
    }),
  );
  for (const [side, reads] of Object.entries(figure.samples) as [Side, number[]][]) {
    console.log(`  read: ${label(side, versions)} ${formatRate(median(reads))} events/s (reads: ${reads.map(formatRate).join(', ')})`);
  }
  return figure;
}

async function measureRead(side: Side, versions: Versions, target: Target, figure: CompareFigure): Promise<void> {
  try {
    const read = await runIsolated({
      kind: 'read',
      ...sideTask(side, versions),
      target,
      batchSize: settings.readBatchSize,
      warmupEvents: settings.readWarmupEvents,
      maxMs: settings.readMaxMs,
    });
    (figure.samples[side] ??= []).push(read.eventsPerSecond);
    if (read.events < settings.readEvents) {
      figure.notes.push(`${label(side, versions)} was stopped after ${settings.readMaxMs / 1000} s in a read, at ${formatRate(read.events)} events; its rate is over what it read.`);
    }
  } catch (error) {
    figure.notes.push(`${label(side, versions)} failed to read: ${(error as Error).message.split('\n')[0]}`);
    console.error(`  read: ${label(side, versions)} failed`, error);
  }
}
