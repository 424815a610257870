/** What a figure script produces, and the measuring loop the append figures share. */
import { pathToFileURL } from 'node:url';
import { contestantLabels, contestantNames, targetKind, type ContestantName } from './contestants/index.js';
import { formatMiB, formatRate, freshName, markdownTable, runIsolated, settings, withTarget, type Target } from './harness.js';

export type FigureId = 'append-single-c1' | 'append-single-c16' | 'append-batch' | 'read-all';

export interface FigureResult {
  id: FigureId;
  title: string;
  /** Events per second by contestant; a contestant that failed is absent. */
  eventsPerSecond: Partial<Record<ContestantName, number>>;
  /** Peak RSS of the reading process (read figure only). */
  peakRssBytes?: Partial<Record<ContestantName, number>>;
  /** RSS just before the measured read, after warm-up and a GC (read figure only). */
  baselineRssBytes?: Partial<Record<ContestantName, number>>;
  /** Anything a reader of the numbers must know (a reader stopped early, a failure). */
  notes: string[];
}

export function freshTarget(contestant: ContestantName): Target {
  const name = freshName(contestant);
  return targetKind(contestant) === 'database' ? { database: name } : { schema: name };
}

/**
 * One append figure: each contestant in turn, in a fresh process on a fresh schema (or
 * database), appends `eventsPerAppend` events per call with `concurrency` workers.
 */
export async function appendFigure(options: {
  id: FigureId;
  title: string;
  concurrency: number;
  eventsPerAppend: number;
}): Promise<FigureResult> {
  const result: FigureResult = { id: options.id, title: options.title, eventsPerSecond: {}, notes: [] };
  for (const contestant of contestantNames) {
    try {
      const throughput = await withTarget(freshTarget(contestant), (target) =>
        runIsolated({
          kind: 'append',
          contestant,
          target,
          concurrency: options.concurrency,
          eventsPerAppend: options.eventsPerAppend,
          streams: settings.streams,
          warmupMs: settings.warmupMs,
          measureMs: settings.measureMs,
        }),
      );
      result.eventsPerSecond[contestant] = throughput.eventsPerSecond;
      console.log(`  ${options.title}: ${contestantLabels[contestant]} ${formatRate(throughput.eventsPerSecond)} events/s`);
    } catch (error) {
      result.notes.push(`${contestantLabels[contestant]} failed: ${(error as Error).message.split('\n')[0]}`);
      console.error(`  ${options.title}: ${contestantLabels[contestant]} failed`, error);
    }
  }
  return result;
}

/** The figures as a plain table, one row per figure, one column per contestant. */
export function figuresTable(figures: readonly FigureResult[]): string {
  const rows = figures.map((figure) => [figure.title, ...contestantNames.map((name) => formatRate(figure.eventsPerSecond[name]))]);
  for (const figure of figures) {
    if (figure.peakRssBytes) {
      rows.push([`${figure.title}: peak RSS`, ...contestantNames.map((name) => formatMiB(figure.peakRssBytes?.[name]))]);
    }
  }
  return markdownTable(
    ['events/s', ...contestantNames.map((name) => contestantLabels[name])],
    rows,
    ['left', ...contestantNames.map(() => 'right' as const)],
  );
}

/** Runs `figure` and prints its table when the calling module is the script node started. */
export async function runIfMain(moduleUrl: string, figure: () => Promise<FigureResult[]>): Promise<void> {
  if (process.argv[1] === undefined || pathToFileURL(process.argv[1]).href !== moduleUrl) return;
  const results = await figure();
  console.log(`\n${figuresTable(results)}`);
  for (const note of results.flatMap((result) => result.notes)) console.log(`note: ${note}`);
}
