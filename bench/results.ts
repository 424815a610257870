/**
 * What the figure scripts produce and the report reads: types only, so that the scripts
 * and the report modules import them from here rather than from each other.
 */
import type { BankContestantName } from './contestants/bank.js';
import type { ContestantName } from './contestants/index.js';

/** An append or read figure (figures.ts, read-all.ts). */
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

/** A command figure (commands.ts). */
export type CommandFigureId = 'commands-hot' | 'commands-many';

export interface CommandFigureResult {
  id: CommandFigureId;
  title: string;
  /** Contestants that took part, in table order. */
  contestants: BankContestantName[];
  /** Commands per second by contestant (the median window); a contestant that failed is absent. */
  commandsPerSecond: Partial<Record<BankContestantName, number>>;
  /** Every measured window's commands per second. */
  samples: Partial<Record<BankContestantName, number[]>>;
  /** Commands that completed, over all measured windows. */
  succeeded: Partial<Record<BankContestantName, number>>;
  /** Commands that failed after the handler's retries, over all measured windows, by kind. */
  failed: Partial<Record<BankContestantName, Record<string, number>>>;
  /** Longest stream the hot account reached by the end of a window (hot figure). */
  streamLength: Partial<Record<BankContestantName, number>>;
  notes: string[];
}

/** The load-time figure (load-time.ts). */
export interface LoadTimeFigure {
  lengths: number[];
  contestants: BankContestantName[];
  /** Median load time (ms) by contestant, one entry per length; undefined when not measured. */
  ms: Partial<Record<BankContestantName, (number | undefined)[]>>;
  /** Every measured step's time (ms), per length. */
  samples: Partial<Record<BankContestantName, number[][]>>;
  /** Lengths whose first load took longer than settings.loadMaxMs: measured once only. */
  capped: Partial<Record<BankContestantName, number[]>>;
  notes: string[];
}

/** Everything the "Commands" section of docs/benchmarks.md is made from (commands-report.ts). */
export interface CommandResults {
  figures: CommandFigureResult[];
  loadTime?: LoadTimeFigure;
}
