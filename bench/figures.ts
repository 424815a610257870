/** The measuring loop the append and command figures share, and how a figure script runs alone. */
import { contestantLabels, contestantNames, targetKind, type ContestantName } from './contestants/index.js';
import { createTarget, dropTarget, formatRate, freshName, settings, type Target } from './harness.js';
import { IsolatedProcess } from './isolated-process.js';
import { isMain } from './is-main.js';
import { median } from './median.js';
import { renderSummary } from './report.js';
import type { FigureId, FigureResult } from './results.js';
import type { CommandTask } from './command-tasks.js';
import type { AppendTask, StepTypes } from './tasks.js';

export function freshTarget(contestant: ContestantName): Target {
  const name = freshName(contestant);
  return targetKind(contestant) === 'database' ? { database: name } : { schema: name };
}

/**
 * One append figure. Each contestant runs in a process of its own on a fresh schema (or
 * database), appending `eventsPerAppend` events per call with `concurrency` workers; the
 * figure is each contestant's median window (see interleavedAppends).
 */
export async function appendFigure(options: {
  id: FigureId;
  title: string;
  concurrency: number;
  eventsPerAppend: number;
}): Promise<FigureResult> {
  const { id, title, ...load } = options;
  const entrants = contestantNames.map((contestant) => ({ key: contestant, label: contestantLabels[contestant], task: { contestant, ...load } }));
  const { samples, notes } = await interleavedAppends(title, entrants);
  const result: FigureResult = { id, title, eventsPerSecond: {}, samples, notes };
  for (const [contestant, windows] of Object.entries(samples) as [ContestantName, number[]][]) result.eventsPerSecond[contestant] = median(windows);
  return result;
}

/** One process measuring appends: `key` names it in the results, `label` in messages. */
export interface AppendEntrant<K extends string> {
  key: K;
  label: string;
  /** The task, less the fresh target and the stream count the harness supplies. */
  task: Omit<AppendTask, 'kind' | 'target' | 'streams'>;
}

/**
 * Measures the entrants' appends side by side (see interleavedWindows), each on a fresh
 * schema (or database). Returns every window's events per second by entrant.
 */
export function interleavedAppends<K extends string>(
  title: string,
  entrants: readonly AppendEntrant<K>[],
): Promise<{ samples: Partial<Record<K, number[]>>; notes: string[] }> {
  return interleavedWindows({
    title,
    unit: 'events/s',
    entrants: entrants.map(({ key, label, task }) => ({
      key,
      label,
      task: { kind: 'append', target: freshTarget(task.contestant), streams: settings.streams, ...task } satisfies AppendTask,
    })),
    rate: (_, throughput) => throughput.eventsPerSecond,
  });
}

/** A task whose steps are measured windows (MeasureWindow in, a result out). */
export type WindowTask = AppendTask | CommandTask;

/**
 * Measures the entrants side by side: each in a process of its own running its task on
 * the task's target, created first and dropped afterwards. The measured windows are
 * interleaved, round by round and in a rotating order, so that a noisy moment on a
 * shared machine hits every entrant alike. `rate` gives a window's figure (and may note
 * more of its result); `summary` adds to an entrant's console line. Returns every
 * window's figure by entrant (window i of each entrant ran in round i); an entrant that
 * fails is left out, with a note.
 */
export async function interleavedWindows<K extends string, T extends WindowTask>(options: {
  title: string;
  unit: string;
  entrants: readonly { key: K; label: string; task: T }[];
  rate: (key: K, result: StepTypes[T['kind']]['result']) => number;
  summary?: (key: K) => string;
}): Promise<{ samples: Partial<Record<K, number[]>>; notes: string[] }> {
  const { title, entrants } = options;
  const samples: Partial<Record<K, number[]>> = {};
  const notes: string[] = [];
  const running = new Map<K, IsolatedProcess<T>>();
  const labels = new Map(entrants.map((entrant) => [entrant.key, entrant.label]));
  const targets: Target[] = [];
  const fail = (key: K, error: unknown) => {
    running.delete(key);
    delete samples[key];
    notes.push(`${labels.get(key)} failed: ${(error as Error).message.split('\n')[0]}`);
    console.error(`  ${title}: ${labels.get(key)} failed`, error);
  };
  try {
    for (const { key, task } of entrants) {
      try {
        await createTarget(task.target);
        targets.push(task.target);
        running.set(key, await IsolatedProcess.start(task));
        samples[key] = [];
      } catch (error) {
        fail(key, error);
      }
    }
    await inInterleavedRounds([...running.keys()], async (key, window) => {
      // One that failed in an earlier round sits out the rest.
      const child = running.get(key);
      if (!child) return;
      try {
        samples[key]!.push(options.rate(key, await child.step(window)));
      } catch (error) {
        fail(key, error);
      }
    });
    for (const [key, windows] of Object.entries(samples) as [K, number[]][]) {
      const extra = options.summary ? `; ${options.summary(key)}` : '';
      console.log(`  ${title}: ${labels.get(key)} ${formatRate(median(windows))} ${options.unit} (windows: ${windows.map(formatRate).join(', ')}${extra})`);
    }
  } finally {
    await Promise.allSettled([...running.values()].map((child) => child.close()));
    for (const target of targets) await dropTarget(target);
  }
  return { samples, notes };
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

/** Runs `figure` and prints its table when the calling module is the script node started. */
export async function runIfMain(moduleUrl: string, figure: () => Promise<FigureResult[]>): Promise<void> {
  if (!isMain(moduleUrl)) return;
  const results = await figure();
  console.log(`\n${renderSummary(results)}`);
  for (const note of results.flatMap((result) => result.notes)) console.log(`note: ${note}`);
}
