import type { Counter, CounterConfiguration, LabelValues } from 'prom-client';
import type { PromClient } from './service-metrics.js';

/**
 * A Prometheus counter whose values are totals kept elsewhere (the events a projection's
 * partitions processed, counted in the database): a prom-client counter can only be
 * increased, so each scrape increases it by what the total grew. A series whose total
 * went down is started again (Prometheus reads that as a counter reset), and one no
 * longer reported (a retired generation) is removed.
 */
export class MirroredCounter<Label extends string> {
  readonly #counter: Counter<Label>;
  readonly #labelNames: readonly Label[];
  readonly #last = new Map<string, { labels: LabelValues<Label>; total: number }>();

  constructor(client: PromClient, configuration: CounterConfiguration<Label> & { labelNames: readonly Label[] }) {
    this.#counter = new client.Counter(configuration);
    this.#labelNames = configuration.labelNames;
  }

  /** Every series' total now; series not listed are removed. */
  mirror(totals: readonly { labels: LabelValues<Label>; total: number }[]): void {
    const seen = new Set<string>();
    for (const { labels, total } of totals) {
      const key = this.#labelNames.map((name) => String(labels[name] ?? '')).join('\u0000');
      seen.add(key);
      const last = this.#last.get(key)?.total;
      if (last === undefined || total < last) {
        if (last !== undefined) this.#counter.remove(labels);
        this.#counter.inc(labels, total);
      } else if (total > last) {
        this.#counter.inc(labels, total - last);
      }
      this.#last.set(key, { labels, total });
    }
    for (const [key, { labels }] of this.#last) {
      if (seen.has(key)) continue;
      this.#counter.remove(labels);
      this.#last.delete(key);
    }
  }
}
