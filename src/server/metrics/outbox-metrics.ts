/**
 * The outboxes on `/metrics` (issue 15, section 5; docs/operations.md, "The outbox"):
 *
 * - counted as they happen, by a relay running in this process and given
 *   `outboxRelayMetrics(app)`: messages published, failed attempts, messages parked;
 * - read from the database at scrape time, for the service's `outboxes` (whoever runs
 *   their relays): per destination, pending messages, the oldest one's age, parked and
 *   held messages. The read is outboxStatus, the one behind `annals status`.
 *
 * Bounded in cost as the store's figures are (cached-figures.ts): one read at a time,
 * reused for `storeFiguresMaxAgeMs`, waited for at most `storeReadTimeoutMs`, after which
 * the scrape shows the last figures read. The read counts the events after each
 * partition's checkpoint, up to `pendingReadLimit` per partition.
 */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Counter, Gauge, Registry } from 'prom-client';
import type { EventStore } from '../../event-store/event-store.js';
import type { Outbox } from '../../outbox/define-outbox.js';
import { outboxStatus, pendingReadLimit, type OutboxStatus } from '../../outbox/outbox-status.js';
import type { OutboxRelayMetrics } from '../../outbox/publish-batch.js';
import { CachedFigures } from './cached-figures.js';
import type { MetricsSettings } from './metrics-options.js';
import { metricsOf, type PromClient, type ServiceMetrics } from './service-metrics.js';

type DestinationLabel = 'outbox' | 'destination';
const destinationLabels: DestinationLabel[] = ['outbox', 'destination'];

/**
 * The hook to give a relay running in this process, so that `/metrics` counts what it
 * publishes, fails and parks, by outbox and destination
 * (`annals_outbox_messages_published_total`, `annals_outbox_publish_failures_total`,
 * `annals_outbox_messages_parked_total`). With metrics off, a hook that counts nothing.
 *
 * @example
 * ```ts
 * const service = await createService({ store, ...schema, outboxes: [outbox] });
 * const relay = runOutboxRelay(store, outbox, { metrics: outboxRelayMetrics(service.app) });
 * ```
 */
export function outboxRelayMetrics(app: FastifyInstance): OutboxRelayMetrics {
  const metrics = metricsOf(app);
  if (!metrics) return {};
  return {
    published: ({ outbox, destination }) => metrics.outboxPublished.inc({ outbox, destination }),
    failed: ({ outbox, destination, retryable }) => metrics.outboxPublishFailures.inc({ outbox, destination, retryable: String(retryable) }),
    parked: ({ outbox, destination }) => metrics.outboxParked.inc({ outbox, destination }),
  };
}

/**
 * The relay counters' series of the service's outboxes, at 0 from the start: a rate over
 * a series that appears only at its first increase misses that increase.
 */
export function initOutboxCounters(metrics: ServiceMetrics, outboxes: readonly Outbox[]): void {
  for (const outbox of outboxes) {
    for (const destination of outbox.destinations.keys()) {
      const labels = { outbox: outbox.name, destination };
      metrics.outboxPublished.inc(labels, 0);
      metrics.outboxParked.inc(labels, 0);
      for (const retryable of ['true', 'false']) metrics.outboxPublishFailures.inc({ ...labels, retryable }, 0);
    }
  }
}

/** The outboxes' figures read from the database at scrape time. */
export class OutboxStatusMetrics {
  readonly #store: EventStore;
  readonly #outboxes: readonly Outbox[];
  readonly #log: FastifyBaseLogger;
  readonly #figures: CachedFigures;

  readonly #pending: Gauge<DestinationLabel>;
  readonly #oldestAge: Gauge<DestinationLabel>;
  readonly #parked: Gauge<DestinationLabel>;
  readonly #held: Gauge<DestinationLabel>;
  readonly #readErrors: Counter;

  constructor(client: PromClient, context: { store: EventStore; outboxes: readonly Outbox[]; settings: MetricsSettings; registry: Registry; log: FastifyBaseLogger }) {
    const { Counter, Gauge } = client;
    this.#store = context.store;
    this.#outboxes = context.outboxes;
    this.#log = context.log;
    const common = { registers: [context.registry], collect: () => this.refresh() };
    const gauge = (name: string, help: string) => new Gauge<DestinationLabel>({ name, help, labelNames: destinationLabels, ...common });
    this.#pending = gauge(
      'annals_outbox_pending_messages',
      `Messages of the destination committed in the log and not yet past their relay partition's checkpoint (neither published nor parked); counted up to ${pendingReadLimit} events per partition.`,
    );
    this.#oldestAge = gauge('annals_outbox_oldest_pending_age_seconds', 'Age of the oldest pending message of the destination: how late it is (0 when none is pending).');
    this.#parked = gauge('annals_outbox_parked_messages', "The destination's parked messages: each holds its key until it is retried or skipped.");
    this.#held = gauge('annals_outbox_held_messages', "The destination's messages held behind a parked one of their key.");
    const figuresAge = new Gauge({ name: 'annals_outbox_figures_age_seconds', help: 'Age of the outbox figures this scrape shows (they are read at most every storeFiguresMaxAgeMs).', ...common });
    this.#readErrors = new Counter({ name: 'annals_outbox_read_errors_total', help: 'Reads of the outbox figures that failed (the last figures read are shown meanwhile).', ...common });
    // Unset until the first read: 0 would say the figures are fresh.
    figuresAge.remove({});
    this.#figures = new CachedFigures(context.settings, figuresAge, { read: () => this.#read(), failed: (error) => this.#failed(error) });
  }

  /** Brings the figures up to date unless they are fresh: one read at a time, waited for at most `storeReadTimeoutMs`. */
  refresh(): Promise<void> {
    return this.#figures.refresh();
  }

  async #read(): Promise<number> {
    this.#show(await outboxStatus(this.#store, this.#outboxes));
    return Date.now();
  }

  #failed(error: unknown): void {
    this.#readErrors.inc();
    this.#log.warn({ err: error }, 'metrics: could not read the outbox figures; showing the last ones read');
  }

  #show(statuses: readonly OutboxStatus[]): void {
    for (const gauge of [this.#pending, this.#oldestAge, this.#parked, this.#held]) gauge.reset();
    for (const status of statuses) {
      for (const destination of status.destinations) {
        const labels = { outbox: status.outbox, destination: destination.destination };
        this.#pending.set(labels, destination.pending);
        this.#oldestAge.set(labels, (destination.oldestPendingAgeMs ?? 0) / 1000);
        this.#parked.set(labels, destination.parked);
        this.#held.set(labels, destination.held);
      }
    }
  }
}
