/**
 * Personal data on `/metrics` (issue 16, section 5; docs/privacy.md): read from the
 * database at scrape time, whoever ran them, cached as the store's figures are
 * (cached-figures.ts): the erasures performed (`annals_privacy_erasures_total`), when
 * the last one was, and how many data subjects the log holds personal fields of.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Counter, Gauge, Registry } from 'prom-client';
import type { EventStore } from '../../event-store/event-store.js';
import { privacyStatus, type PrivacyStatus } from '../../privacy/privacy-status.js';
import { CachedFigures } from './cached-figures.js';
import type { MetricsSettings } from './metrics-options.js';
import { MirroredCounter } from './mirrored-counter.js';
import type { PromClient } from './service-metrics.js';

export class PrivacyMetrics {
  readonly #store: EventStore;
  readonly #log: FastifyBaseLogger;
  readonly #figures: CachedFigures;
  readonly #erasures: MirroredCounter<never>;
  readonly #lastErasure: Gauge;
  readonly #subjects: Gauge;
  readonly #readErrors: Counter;

  constructor(client: PromClient, context: { store: EventStore; settings: MetricsSettings; registry: Registry; log: FastifyBaseLogger }) {
    this.#store = context.store;
    this.#log = context.log;
    const common = { registers: [context.registry], collect: () => this.#figures.refresh() };
    this.#erasures = new MirroredCounter<never>(client, {
      name: 'annals_privacy_erasures_total',
      help: 'Data subjects forgotten (forget calls that appended their tombstone), by any process.',
      labelNames: [],
      ...common,
    });
    this.#lastErasure = new client.Gauge({ name: 'annals_privacy_last_erasure_timestamp_seconds', help: 'When a data subject was last forgotten (Unix time).', ...common });
    this.#subjects = new client.Gauge({ name: 'annals_privacy_subjects', help: 'Data subjects whose personal fields the log holds or held.', ...common });
    const figuresAge = new client.Gauge({ name: 'annals_privacy_figures_age_seconds', help: 'Age of the personal data figures this scrape shows.', ...common });
    this.#readErrors = new client.Counter({ name: 'annals_privacy_read_errors_total', help: 'Reads of the personal data figures that failed.', ...common });
    figuresAge.remove({});
    this.#figures = new CachedFigures(context.settings, figuresAge, { read: () => this.#read(), failed: (error) => this.#failed(error) });
  }

  async #read(): Promise<number> {
    this.#show(await privacyStatus(this.#store));
    return Date.now();
  }

  #failed(error: unknown): void {
    this.#readErrors.inc();
    this.#log.warn({ err: error }, 'metrics: could not read the personal data figures; showing the last ones read');
  }

  #show(status: PrivacyStatus): void {
    this.#erasures.mirror([{ labels: {}, total: status.erasures }]);
    this.#subjects.set(status.subjects);
    this.#lastErasure.remove({});
    if (status.lastErasureAt) this.#lastErasure.set(status.lastErasureAt.getTime() / 1000);
  }
}
