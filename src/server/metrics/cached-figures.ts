import type { Gauge } from 'prom-client';
import type { MetricsSettings } from './metrics-options.js';

/** Figures read from the database for `/metrics`, and what to do when a read fails. */
export interface FiguresSource {
  /** Reads the figures and sets the gauges; resolves to when they were read (ms since the epoch). */
  read(): Promise<number>;
  /** The read failed: the gauges keep the last figures read. */
  failed(error: unknown): void;
}

/**
 * Figures read at scrape time, bounded in cost (the store's and the outboxes'): one read
 * at a time, shared by concurrent scrapes and reused for `storeFiguresMaxAgeMs`; a scrape
 * waits for it at most `storeReadTimeoutMs`, then answers with the last figures read, and
 * `age` says how old they are (unset until a read succeeds).
 */
export class CachedFigures {
  readonly #settings: Pick<MetricsSettings, 'storeFiguresMaxAgeMs' | 'storeReadTimeoutMs'>;
  readonly #age: Gauge;
  readonly #source: FiguresSource;
  #readAt: number | undefined;
  #reading: Promise<void> | undefined;
  #waiting: Promise<void> | undefined;

  constructor(settings: Pick<MetricsSettings, 'storeFiguresMaxAgeMs' | 'storeReadTimeoutMs'>, age: Gauge, source: FiguresSource) {
    this.#settings = settings;
    this.#age = age;
    this.#source = source;
  }

  /** Brings the figures up to date unless they are fresh; for the gauges' `collect`. */
  refresh(): Promise<void> {
    if (this.#readAt !== undefined && Date.now() - this.#readAt < this.#settings.storeFiguresMaxAgeMs) return this.#showAge();
    this.#reading ??= this.#read().finally(() => (this.#reading = undefined));
    this.#waiting ??= new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.#settings.storeReadTimeoutMs);
      timer.unref();
      void this.#reading!.then(() => {
        clearTimeout(timer);
        resolve();
      });
    }).finally(() => (this.#waiting = undefined));
    return this.#waiting.then(() => this.#showAge());
  }

  async #showAge(): Promise<void> {
    if (this.#readAt !== undefined) this.#age.set(Math.max(0, Date.now() - this.#readAt) / 1000);
  }

  // Never rejects: a scrape waiting on it must get the last figures, not an error.
  async #read(): Promise<void> {
    try {
      this.#readAt = await this.#source.read();
    } catch (error) {
      this.#source.failed(error);
    }
  }
}
