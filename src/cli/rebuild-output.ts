import { formatCount, formatDuration, formatPercent, toJsonLine, truncate } from './output.js';
import { ProgressReporter, type ProgressLine } from './progress.js';

/**
 * What `annals projections rebuild` tells as it goes, in text for a person (a bar on
 * stderr, the outcome on stdout) or, with `--json`, in JSON lines for a program (every
 * line on stdout one object). The command decides what happened; these only say it.
 */

/** The rebuild the command works on, as startRebuild gave it. */
export interface RebuildStart {
  projection: string;
  version: number;
  generation: number;
  /** The generation's status when the command began: `live` when there was no live one to replace. */
  status: 'live' | 'building' | 'retired';
  /** The position it replays from (after). */
  from: bigint;
  /** A rebuild under way for this version, resumed rather than started. */
  resumed: boolean;
  /** A `--from` that a resumed rebuild ignores (it keeps its start). */
  ignoredFrom?: bigint;
}

/** Where the rebuild stands, as of the last read of the status. */
export interface RebuildProgress {
  /** Done so far, 0 to 1 (the mean of the partitions' rebuildProgress). */
  share: number;
  /** The lowest checkpoint of the generation's partitions: every event up to it is applied. */
  position: bigint;
  /** The log's head at that read: where the generation has to get to. */
  target: bigint;
  /** Events applied by this process's worker since the command began. */
  eventsReplayed: number;
  eventsPerSecond: number;
  etaMs: number | undefined;
  elapsedMs: number;
}

/** How the command ended (its exit code follows from it). */
export type RebuildOutcome =
  | { outcome: 'switched' | 'caught-up' | 'interrupted' | 'retired' }
  | { outcome: 'stopped'; partition: number; error: string }
  | { outcome: 'failed'; error: string };

export interface RebuildOutput {
  /** A line the runner logged (pino's JSON, warnings and worse). */
  log(line: string): void;
  started(start: RebuildStart): void;
  /** After each read of the status; `last` when it found the rebuild done (finished follows). */
  progress(progress: RebuildProgress, last: boolean): void;
  /** Between reads (every 250 ms): throughput and time left move. */
  tick(progress: RebuildProgress): void;
  finished(outcome: RebuildOutcome, progress: RebuildProgress): void;
}

const stdout = (line: string) => process.stdout.write(`${line}\n`);

/** The projection rebuilt, and the generation once startRebuild has given it. */
interface Subject {
  projection: string;
  generation?: number;
}

/**
 * The line on stderr for an outcome that is not a success, the same with and without
 * `--json`: stderr is for the person watching, stdout for what reads the result.
 */
function outcomeOnStderr(ended: RebuildOutcome, progress: RebuildProgress, { projection, generation }: Subject): string | undefined {
  switch (ended.outcome) {
    case 'interrupted':
      return `rebuild of ${projection} interrupted at ${formatPercent(progress.share)}; run the same command again to resume it`;
    case 'retired':
      return `annals: generation ${generation} of ${projection} was retired: another rebuild replaced it`;
    case 'stopped':
      return (
        `annals: partition ${ended.partition} of ${projection} generation ${generation} stopped: ${truncate(ended.error, 300)}\n` +
        `fix the handler, then run annals projections resume ${projection} and this command again`
      );
    default:
      // A thrown error is told by runCli (one line, `annals: ...`); a success goes to stdout.
      return undefined;
  }
}

/** Text: what happens on stdout, a bar (a terminal) or a line every 5 s (a log) on stderr. */
export class TextRebuildOutput implements RebuildOutput {
  readonly #bar = new ProgressReporter(process.stderr);
  readonly #subject: Subject;

  constructor(projection: string) {
    this.#subject = { projection };
  }

  log(line: string): void {
    this.#bar.writeAbove(line);
  }

  started(start: RebuildStart): void {
    const { projection, generation, from } = start;
    this.#subject.generation = generation;
    if (start.resumed) {
      const ignored = start.ignoredFrom === undefined ? '' : `; --from ${start.ignoredFrom} is ignored`;
      stdout(`resuming the rebuild of ${projection} into generation ${generation} (started from position ${from})${ignored}`);
      return;
    }
    const how = start.status === 'live' ? ' (no live generation: it serves reads while it fills)' : '';
    stdout(`rebuilding ${projection} version ${start.version} into generation ${generation} from position ${from}${how}`);
  }

  progress(progress: RebuildProgress, last: boolean): void {
    // The last one is drawn by finished, once.
    if (!last) this.#bar.update(this.#line(progress));
  }

  tick(progress: RebuildProgress): void {
    this.#bar.update(this.#line(progress));
  }

  finished(ended: RebuildOutcome, progress: RebuildProgress): void {
    const { projection, generation } = this.#subject;
    // A retired generation has no share worth a last line; a failure ends the bar's line only.
    this.#bar.finish(ended.outcome === 'retired' || ended.outcome === 'failed' ? undefined : this.#line(progress));
    const elapsed = formatDuration(progress.elapsedMs);
    if (ended.outcome === 'switched') {
      stdout(`switched ${projection} to generation ${generation}: ${formatCount(progress.eventsReplayed)} events replayed here in ${elapsed}`);
    } else if (ended.outcome === 'caught-up') {
      stdout(`${projection} generation ${generation} has caught up: ${formatCount(progress.eventsReplayed)} events in ${elapsed}`);
    }
    const failure = outcomeOnStderr(ended, progress, this.#subject);
    if (failure !== undefined) process.stderr.write(`${failure}\n`);
  }

  #line(progress: RebuildProgress): ProgressLine {
    const { share, eventsPerSecond, etaMs, elapsedMs } = progress;
    return { label: `${this.#subject.projection} g${this.#subject.generation}`, share, eventsPerSecond, etaMs, elapsedMs };
  }
}

/**
 * JSON lines on stdout: `start`, a `progress` object per read of the status (about once
 * a second), then one `result`. Global positions are strings (they go past 2^53); the
 * runner's own log lines go to stderr, so stdout holds only these objects.
 */
export class JsonRebuildOutput implements RebuildOutput {
  readonly #subject: Subject;

  constructor(projection: string) {
    this.#subject = { projection };
  }

  log(line: string): void {
    process.stderr.write(line);
  }

  started(start: RebuildStart): void {
    this.#subject.generation = start.generation;
    stdout(toJsonLine({ event: 'start', ...start }));
  }

  progress(progress: RebuildProgress): void {
    stdout(toJsonLine({ event: 'progress', ...this.#subject, ...figures(progress) }));
  }

  tick(): void {
    // One object per read of the status: redrawing is for terminals.
  }

  finished(ended: RebuildOutcome, progress: RebuildProgress): void {
    // A failure before startRebuild answered has no generation, nor figures.
    const known = this.#subject.generation === undefined ? {} : figures(progress);
    stdout(toJsonLine({ event: 'result', ...this.#subject, ...ended, ...known }));
    const failure = outcomeOnStderr(ended, progress, this.#subject);
    if (failure !== undefined) process.stderr.write(`${failure}\n`);
  }
}

/** The figures of a progress object, rounded for reading (a share to 0.01%, a rate to 0.1 event/s). */
function figures(progress: RebuildProgress) {
  return {
    position: progress.position,
    target: progress.target,
    share: Math.round(progress.share * 10_000) / 10_000,
    eventsReplayed: progress.eventsReplayed,
    eventsPerSecond: Math.round(progress.eventsPerSecond * 10) / 10,
    etaMs: progress.etaMs === undefined ? null : Math.round(progress.etaMs),
    elapsedMs: Math.round(progress.elapsedMs),
  };
}
