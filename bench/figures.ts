/** What a figure script produces, and the measuring loop the append figures share. */
import { pathToFileURL } from 'node:url';
import { contestantLabels, contestantNames, targetKind, type ContestantName } from './contestants/index.js';
import { createTarget, dropTarget, formatRate, freshName, settings, type Target } from './harness.js';
import { IsolatedProcess } from './isolated-process.js';
import { renderSummary } from './report.js';
import type { AppendTask } from './tasks.js';

export type FigureId = 'append-single-c1' | 'append-single-c16' | 'append-batch' | 'read-all';

export interface FigureResult {
  id: FigureId;
  title: string;
  /** Events per second by contestant (the median window); a contestant that failed is absent. */
  eventsPerSecond: Partial<Record<ContestantName, number>>;
  /** Every measured window's events per second (append figures). */
  samples?: Partial<Record<ContestantName, number[]>>;
  /** Peak RSS of the reading process (read figure only). */
  peakRssBytes?: Partial<Record<ContestantName, number>>;
  /** RSS just before the measured read, after warm-up and a GC (read figure only). */
  baselineRssBytes?: Partial<Record<ContestantName, number>>;
  /** Peak V8 heap in use during the read (read figure only). */
  peakHeapBytes?: Partial<Record<ContestantName, number>>;
  /** Anything a reader of the numbers must know (a reader stopped early, a failure). */
  notes: string[];
}

export function freshTarget(contestant: ContestantName): Target {
  const name = freshName(contestant);
  return targetKind(contestant) === 'database' ? { database: name } : { schema: name };
}

/**
 * One append figure. Each contestant runs in a process of its own on a fresh schema (or
 * database), appending `eventsPerAppend` events per call with `concurrency` workers. The
 * measured windows are interleaved, round by round and in a rotating order, so that a
 * noisy moment on a shared machine hits every contestant alike; the figure is the
 * median window.
 */
export async function appendFigure(options: {
  id: FigureId;
  title: string;
  concurrency: number;
  eventsPerAppend: number;
}): Promise<FigureResult> {
  const result: FigureResult = { id: options.id, title: options.title, eventsPerSecond: {}, samples: {}, notes: [] };
  const running = new Map<ContestantName, IsolatedProcess<AppendTask>>();
  const targets: Target[] = [];
  const fail = (contestant: ContestantName, error: unknown) => {
    running.delete(contestant);
    delete result.samples![contestant];
    result.notes.push(`${contestantLabels[contestant]} failed: ${(error as Error).message.split('\n')[0]}`);
    console.error(`  ${options.title}: ${contestantLabels[contestant]} failed`, error);
  };
  try {
    for (const contestant of contestantNames) {
      const target = freshTarget(contestant);
      try {
        await createTarget(target);
        targets.push(target);
        const task: AppendTask = { kind: 'append', contestant, target, ...options, streams: settings.streams };
        running.set(contestant, await IsolatedProcess.start(task));
        result.samples![contestant] = [];
      } catch (error) {
        fail(contestant, error);
      }
    }
    await inInterleavedRounds([...running.keys()], async (contestant, window) => {
      try {
        const throughput = await running.get(contestant)!.step(window);
        result.samples![contestant]!.push(throughput.eventsPerSecond);
      } catch (error) {
        fail(contestant, error);
      }
    });
    for (const [contestant, samples] of Object.entries(result.samples!) as [ContestantName, number[]][]) {
      result.eventsPerSecond[contestant] = median(samples);
      console.log(`  ${options.title}: ${contestantLabels[contestant]} ${formatRate(median(samples))} events/s (windows: ${samples.map(formatRate).join(', ')})`);
    }
  } finally {
    await Promise.allSettled([...running.values()].map((child) => child.close()));
    for (const target of targets) await dropTarget(target);
  }
  return result;
}

/** A measured window: warm up (long in the first round, short after), then measure. */
export interface MeasureWindow {
  warmupMs: number;
  measureMs: number;
}

/**
 * Runs `settings.rounds` rounds in which every contestant measures one window, in an
 * order that rotates each round, so no contestant always runs first (on a warm cache)
 * or last (after the others heated the machine).
 */
export async function inInterleavedRounds<K>(
  contestants: readonly K[],
  measure: (contestant: K, window: MeasureWindow) => Promise<void>,
): Promise<void> {
  for (let round = 0; round < settings.rounds; round++) {
    for (let turn = 0; turn < contestants.length; turn++) {
      const contestant = contestants[(turn + round) % contestants.length]!;
      await measure(contestant, {
        warmupMs: round === 0 ? settings.warmupMs : settings.rewarmMs,
        measureMs: settings.measureMs,
      });
    }
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** True when the module at `moduleUrl` is the script node started (not an import). */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === moduleUrl;
}

/** Runs `figure` and prints its table when the calling module is the script node started. */
export async function runIfMain(moduleUrl: string, figure: () => Promise<FigureResult[]>): Promise<void> {
  if (!isMain(moduleUrl)) return;
  const results = await figure();
  console.log(`\n${renderSummary(results)}`);
  for (const note of results.flatMap((result) => result.notes)) console.log(`note: ${note}`);
}
