/**
 * What a worker process (worker-script.ts) tells the test: one JSON object per line on
 * stdout, each with `at` (Date.now()) and `kind`:
 *
 * - `ready`: its runner started (with `worker`, its worker id, and `pid`);
 * - `batch`: a committed batch, from onBatch;
 * - `applied` (TRACE_APPLIED): an event applied, before its batch commits;
 * - `holding` (HOLD_AFTER_APPLIED): waiting inside a batch's transaction to be killed;
 * - `log`: a line of the runner's logger;
 * - `stopping`, `stopped`: a SIGTERM or SIGINT received, and the stop done.
 */

/** One line the worker printed. */
export interface WorkerLine {
  at: number;
  kind: 'ready' | 'batch' | 'applied' | 'holding' | 'log' | 'stopping' | 'stopped';
  worker?: string;
  pid?: number;
  // batch
  projection?: string;
  generation?: number;
  partition?: number;
  replaying?: boolean;
  events?: number;
  position?: string;
  caughtUp?: boolean;
  // log
  level?: string;
  message?: string;
  [key: string]: unknown;
}

/** In the worker process: prints one line (global positions are bigints, printed as strings). */
export function printLine(kind: WorkerLine['kind'], details: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ at: Date.now(), kind, ...details }, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)));
}

/** The batches a worker committed, optionally for one partition. */
export const batches = (lines: readonly WorkerLine[], partition?: number) =>
  lines.filter((line) => line.kind === 'batch' && (partition === undefined || line.partition === partition));
