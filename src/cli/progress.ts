import { formatCount, formatDuration, formatPercent } from './output.js';

/**
 * Events per second over the last `windowMs`, from the counts of committed batches
 * (runProjections' onBatch).
 */
export class RateMeter {
  readonly #windowMs: number;
  readonly #samples: { at: number; events: number }[] = [];
  readonly #startedAt: number;
  #total = 0;

  constructor(windowMs = 5000, now = Date.now()) {
    this.#windowMs = windowMs;
    this.#startedAt = now;
  }

  add(events: number, now = Date.now()): void {
    this.#samples.push({ at: now, events });
    this.#total += events;
    this.#trim(now);
  }

  /** Events counted since the meter was made. */
  get total(): number {
    return this.#total;
  }

  perSecond(now = Date.now()): number {
    this.#trim(now);
    const span = Math.min(this.#windowMs, now - this.#startedAt);
    if (span <= 0) return 0;
    return (this.#samples.reduce((sum, s) => sum + s.events, 0) * 1000) / span;
  }

  #trim(now: number): void {
    while (this.#samples.length > 0 && this.#samples[0]!.at < now - this.#windowMs) this.#samples.shift();
  }
}

/**
 * Time left from how fast the share done has grown lately (the last `windowMs` of
 * samples): undefined until it has grown at all.
 */
export class EtaEstimator {
  readonly #windowMs: number;
  readonly #samples: { at: number; share: number }[] = [];

  constructor(windowMs = 30_000) {
    this.#windowMs = windowMs;
  }

  add(share: number, now = Date.now()): void {
    this.#samples.push({ at: now, share });
    while (this.#samples.length > 2 && this.#samples[0]!.at < now - this.#windowMs) this.#samples.shift();
  }

  remainingMs(now = Date.now()): number | undefined {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    if (!first || !last || last.at <= first.at || last.share <= first.share) return undefined;
    const perMs = (last.share - first.share) / (last.at - first.at);
    return Math.max(0, (1 - last.share) / perMs - (now - last.at));
  }
}

export interface ProgressLine {
  label: string;
  /** Done so far, 0 to 1. */
  share: number;
  eventsPerSecond: number;
  etaMs: number | undefined;
  elapsedMs: number;
}

/**
 * One line of progress: with `barWidth`, a bar (for a terminal), else plain text (for a log).
 *
 * @example
 * ```ts
 * renderProgress({ label: 'like-counts g2', share: 0.5, eventsPerSecond: 1200, etaMs: 9000, elapsedMs: 9000 }, 20);
 * // 'like-counts g2 [██████████░░░░░░░░░░]  50.0%  1,200 events/s  ETA 9.0s'
 * ```
 */
export function renderProgress(line: ProgressLine, barWidth?: number): string {
  const eta = line.share >= 1 ? 'done' : line.etaMs === undefined ? 'ETA ?' : `ETA ${formatDuration(line.etaMs)}`;
  const figures = `${formatPercent(line.share).padStart(6)}  ${formatCount(line.eventsPerSecond)} events/s  ${eta}`;
  if (barWidth === undefined) return `${line.label}: ${figures.trim()}  elapsed ${formatDuration(line.elapsedMs)}`;
  const filled = Math.round(Math.min(1, Math.max(0, line.share)) * barWidth);
  return `${line.label} [${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}] ${figures}`;
}

/**
 * Progress on stderr: a bar redrawn in place on a terminal, else a line every
 * `everyMs` (a log file or CI output gets no control characters).
 */
export class ProgressReporter {
  readonly #stream: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #everyMs: number;
  #lastPrinted = 0;
  #drawn = false;

  constructor(stream: NodeJS.WriteStream = process.stderr, everyMs = 5000) {
    this.#stream = stream;
    this.#tty = stream.isTTY === true;
    this.#everyMs = everyMs;
  }

  update(line: ProgressLine, now = Date.now()): void {
    if (this.#tty) {
      const width = Math.max(10, Math.min(40, (this.#stream.columns ?? 80) - line.label.length - 50));
      this.#stream.write(`\r${renderProgress(line, width)}\x1b[K`);
      this.#drawn = true;
      return;
    }
    if (now - this.#lastPrinted >= this.#everyMs) {
      this.#lastPrinted = now;
      this.#stream.write(`${renderProgress(line)}\n`);
    }
  }

  /** Writes `text` (whole lines) without tearing the bar: clear it, write, redraw on the next update. */
  writeAbove(text: string): void {
    this.clear();
    this.#stream.write(text);
  }

  /** Ends the bar's line, so what follows starts on a line of its own. */
  finish(line?: ProgressLine): void {
    if (line && !this.#tty) this.#stream.write(`${renderProgress(line)}\n`);
    if (line && this.#tty) this.update(line);
    if (this.#drawn) this.#stream.write('\n');
    this.#drawn = false;
  }

  clear(): void {
    if (this.#drawn) this.#stream.write('\r\x1b[K');
    this.#drawn = false;
  }
}
