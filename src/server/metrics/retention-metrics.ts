/**
 * Retention on `/metrics` (issue 16, section 5; docs/retention.md, "Where it stands"):
 *
 * - read from the database at scrape time, whoever ran the job: per category, the events
 *   retention removed in all (`annals_retention_removed_events_total`) and when it last
 *   removed some; a read of the small retention_removed table, cached as the store's
 *   figures are (cached-figures.ts);
 * - set by a retention job running in this process and given `retentionRunMetrics(app)`:
 *   per category, the expired events its last run left waiting for readers that still
 *   need them (`annals_retention_waiting_events`), and its runs by outcome.
 */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Counter, Gauge, Registry } from 'prom-client';
import type { EventStore } from '../../event-store/event-store.js';
import { readRemoved, type RetentionRemoved } from '../../retention/retention-status.js';
import type { RetentionReport } from '../../retention/run-retention.js';
import { CachedFigures } from './cached-figures.js';
import type { MetricsSettings } from './metrics-options.js';
import { MirroredCounter } from './mirrored-counter.js';
import { metricsOf, type PromClient } from './service-metrics.js';

/** What a retention job running in this process reports: give it to startRetention's `onRun`. */
export type RetentionRunReporter = (report: RetentionReport) => void;

const runGauges = new WeakMap<Registry, { waiting: Gauge<'category'>; runs: Counter }>();

/**
 * The hook to give a retention job running in this process (`startRetention(store,
 * retention, { onRun: retentionRunMetrics(service.app) })`), so that `/metrics` shows
 * what its last run left waiting, per category. With metrics off, a hook that does nothing.
 */
export function retentionRunMetrics(app: FastifyInstance): RetentionRunReporter {
  const metrics = metricsOf(app);
  const gauges = metrics && runGauges.get(metrics.registry);
  if (!gauges) return () => {};
  return (report) => {
    gauges.runs.inc();
    gauges.waiting.reset();
    const waiting = new Map<string, number>();
    for (const result of report.results) waiting.set(result.category, (waiting.get(result.category) ?? 0) + result.waiting);
    for (const [category, count] of waiting) gauges.waiting.set({ category }, count);
  };
}

/** Retention's gauges: the run-fed ones always, the scrape-time ones with the store's figures. */
export function registerRetentionMetrics(client: PromClient, context: { store: EventStore; settings: MetricsSettings; registry: Registry; log: FastifyBaseLogger }): void {
  const registers = [context.registry];
  const waiting = new client.Gauge<'category'>({
    name: 'annals_retention_waiting_events',
    help: "Expired events this process's last retention run left in the log because a reader still needs them, by category.",
    labelNames: ['category'],
    registers,
  });
  const runs = new client.Counter({ name: 'annals_retention_runs_total', help: 'Retention runs completed by this process.', registers });
  runGauges.set(context.registry, { waiting, runs });
  if (context.settings.storeFigures) new RetentionRemovedMetrics(client, context);
}

class RetentionRemovedMetrics {
  readonly #store: EventStore;
  readonly #log: FastifyBaseLogger;
  readonly #figures: CachedFigures;
  readonly #removed: MirroredCounter<'category'>;
  readonly #lastRemoved: Gauge<'category'>;
  readonly #readErrors: Counter;

  constructor(client: PromClient, context: { store: EventStore; settings: MetricsSettings; registry: Registry; log: FastifyBaseLogger }) {
    this.#store = context.store;
    this.#log = context.log;
    const common = { registers: [context.registry], collect: () => this.#figures.refresh() };
    this.#removed = new MirroredCounter<'category'>(client, {
      name: 'annals_retention_removed_events_total',
      help: 'Events retention removed from the log, by category, by any process.',
      labelNames: ['category'],
      ...common,
    });
    this.#lastRemoved = new client.Gauge<'category'>({
      name: 'annals_retention_last_removed_timestamp_seconds',
      help: 'When retention last removed events of the category (Unix time).',
      labelNames: ['category'],
      ...common,
    });
    const figuresAge = new client.Gauge({ name: 'annals_retention_figures_age_seconds', help: 'Age of the retention figures this scrape shows.', ...common });
    this.#readErrors = new client.Counter({ name: 'annals_retention_read_errors_total', help: 'Reads of the retention figures that failed.', ...common });
    figuresAge.remove({});
    this.#figures = new CachedFigures(context.settings, figuresAge, { read: () => this.#read(), failed: (error) => this.#failed(error) });
  }

  async #read(): Promise<number> {
    this.#show(await readRemoved(this.#store));
    return Date.now();
  }

  #failed(error: unknown): void {
    this.#readErrors.inc();
    this.#log.warn({ err: error }, 'metrics: could not read the retention figures; showing the last ones read');
  }

  #show(removed: readonly RetentionRemoved[]): void {
    this.#removed.mirror(removed.map((r) => ({ labels: { category: r.category }, total: r.removedEvents })));
    this.#lastRemoved.reset();
    for (const r of removed) this.#lastRemoved.set({ category: r.category }, r.lastRemovedAt.getTime() / 1000);
  }
}
