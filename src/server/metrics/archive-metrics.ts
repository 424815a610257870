/**
 * The archive on `/metrics` (docs/archive.md): read from the database at scrape time,
 * whoever archived, cached as the store's figures are (cached-figures.ts): the events the
 * archive holds, its point (every event at or below it is archived), its size on disk,
 * and when it last grew.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Counter, Gauge, Registry } from 'prom-client';
import { archiveStatus, type ArchiveStatus } from '../../archive/archive-status.js';
import type { EventStore } from '../../event-store/event-store.js';
import { CachedFigures } from './cached-figures.js';
import type { MetricsSettings } from './metrics-options.js';
import type { PromClient } from './service-metrics.js';

export class ArchiveMetrics {
  readonly #store: EventStore;
  readonly #log: FastifyBaseLogger;
  readonly #figures: CachedFigures;
  readonly #events: Gauge;
  readonly #position: Gauge;
  readonly #bytes: Gauge;
  readonly #lastArchived: Gauge;
  readonly #readErrors: Counter;

  constructor(client: PromClient, context: { store: EventStore; settings: MetricsSettings; registry: Registry; log: FastifyBaseLogger }) {
    this.#store = context.store;
    this.#log = context.log;
    const common = { registers: [context.registry], collect: () => this.#figures.refresh() };
    this.#events = new client.Gauge({ name: 'annals_archive_events', help: 'Events in the archive table, moved there by any process.', ...common });
    this.#position = new client.Gauge({
      name: 'annals_archive_position',
      help: 'The archive point: every event at or below this global position is archived (0: none; positions are sparse: compare them, never subtract).',
      ...common,
    });
    this.#bytes = new client.Gauge({ name: 'annals_archive_bytes', help: "The archive table's size on disk, with its indexes and TOAST, in bytes.", ...common });
    this.#lastArchived = new client.Gauge({ name: 'annals_archive_last_timestamp_seconds', help: 'When events were last archived (Unix time).', ...common });
    const figuresAge = new client.Gauge({ name: 'annals_archive_figures_age_seconds', help: 'Age of the archive figures this scrape shows.', ...common });
    this.#readErrors = new client.Counter({ name: 'annals_archive_read_errors_total', help: 'Reads of the archive figures that failed.', ...common });
    // Left out until a read has set them (a position of 0 would read as nothing archived):
    // an unlabelled gauge starts at 0, and reset() sets it to 0; remove() takes it out.
    for (const unread of [this.#events, this.#position, this.#bytes, this.#lastArchived, figuresAge]) unread.remove({});
    this.#figures = new CachedFigures(context.settings, figuresAge, { read: () => this.#read(), failed: (error) => this.#failed(error) });
  }

  async #read(): Promise<number> {
    this.#show(await archiveStatus(this.#store));
    return Date.now();
  }

  #failed(error: unknown): void {
    this.#readErrors.inc();
    this.#log.warn({ err: error }, 'metrics: could not read the archive figures; showing the last ones read');
  }

  #show(status: ArchiveStatus): void {
    this.#events.set(status.archivedEvents);
    // A float: exact up to 2^53, which is as far as a Prometheus sample can tell positions apart.
    this.#position.set(Number(status.archivedThrough));
    this.#bytes.set(status.archiveBytes);
    if (status.lastArchivedAt) this.#lastArchived.set(status.lastArchivedAt.getTime() / 1000);
    else this.#lastArchived.remove({});
  }
}
