/**
 * The log's and the projections' figures, read from the database when Prometheus
 * scrapes: the head, the events appended (by any process), each projection generation's
 * lag in events and in seconds, the age of its oldest unprocessed event, its partitions'
 * state, events processed, retries and dead letters. The figures come from
 * projectionStatus, the read behind `annals status`.
 *
 * Bounded in cost (cached-figures.ts): one read at a time per service, shared by
 * concurrent scrapes and reused for `storeFiguresMaxAgeMs`; a scrape waits for it at most
 * `storeReadTimeoutMs`, then answers with the last figures
 * (`annals_store_figures_age_seconds` says how old). The read counts the events after
 * each partition's checkpoint, so its cost grows with the lag; at most one such read runs
 * per process.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Counter, Gauge, Registry } from 'prom-client';
import type { EventStore } from '../../event-store/event-store.js';
import type { PartitionStatus, ProjectionStatus } from '../../projections/status.js';
import { projectionsInStore, statusOf } from '../admin/projections-in-store.js';
import { CachedFigures } from './cached-figures.js';
import type { MetricsSettings } from './metrics-options.js';
import { MirroredCounter } from './mirrored-counter.js';
import type { PromClient } from './service-metrics.js';

type GenerationLabel = 'projection' | 'generation' | 'status';
const generationLabels: GenerationLabel[] = ['projection', 'generation', 'status'];

export class StoreMetrics {
  readonly #store: EventStore;
  readonly #settings: MetricsSettings;
  readonly #log: FastifyBaseLogger;
  readonly #figures: CachedFigures;
  #lastHead: bigint | undefined;

  readonly #head: Gauge;
  readonly #appended: Counter;
  readonly #heldBack: Gauge;
  readonly #lagEvents: Gauge<GenerationLabel>;
  readonly #lagSeconds: Gauge<GenerationLabel>;
  readonly #oldestAge: Gauge<GenerationLabel>;
  readonly #partitions: Gauge<GenerationLabel | 'state'>;
  readonly #rebuildProgress: Gauge<'projection' | 'generation'>;
  readonly #deadLettersPending: Gauge<'projection'>;
  readonly #processed: MirroredCounter<GenerationLabel>;
  readonly #retries: MirroredCounter<GenerationLabel>;
  readonly #deadLettered: MirroredCounter<GenerationLabel>;
  readonly #readErrors: Counter;
  readonly #readDuration: Gauge;

  constructor(client: PromClient, store: EventStore, settings: MetricsSettings, registry: Registry, log: FastifyBaseLogger) {
    const { Counter, Gauge } = client;
    this.#store = store;
    this.#settings = settings;
    this.#log = log;
    // Every figure of the store is brought up to date before a scrape reads it.
    const common = { registers: [registry], collect: () => this.refresh() };
    const gauge = <Label extends string>(name: string, help: string, labelNames: Label[]) => new Gauge<Label>({ name, help, labelNames, ...common });
    const mirrored = (name: string, help: string) => new MirroredCounter<GenerationLabel>(client, { name, help, labelNames: generationLabels, ...common });
    this.#head = gauge('annals_log_head_position', "The global log's head: the newest position readers can see (positions are sparse: compare them, never subtract).", []);
    this.#appended = new Counter({
      name: 'annals_log_events_appended_total',
      help: 'Events that joined the log since this process started reporting, appended by any process (counted between the heads of successive reads).',
      ...common,
    });
    this.#heldBack = gauge('annals_log_held_back_seconds', "How long an open transaction of this store has held the log's readers back (0: none for a second or more).", []);
    this.#lagEvents = gauge(
      'annals_projection_lag_events',
      "Events of the projection's types after its generation's lowest partition checkpoint, up to the head: what it has still to process, at most.",
      generationLabels,
    );
    this.#lagSeconds = gauge(
      'annals_projection_lag_seconds',
      "How far behind the head the generation is in log time: the head event's recording time minus that of its oldest unprocessed event (0 when caught up).",
      generationLabels,
    );
    this.#oldestAge = gauge(
      'annals_projection_oldest_unprocessed_age_seconds',
      'Age of the oldest event the generation has not processed yet: how stale its read model is (0 when caught up).',
      generationLabels,
    );
    this.#partitions = gauge(
      'annals_projection_partitions',
      "The generation's partitions by state: owned (a worker holds its lease), unowned (none does: nothing processes it), stopped (on a failure, until resumed).",
      [...generationLabels, 'state'],
    );
    this.#rebuildProgress = gauge('annals_projection_rebuild_progress_ratio', "A rebuild's share of its events processed, 0 to 1 (building generations only).", ['projection', 'generation']);
    this.#deadLettersPending = gauge('annals_projection_dead_letters_pending', "The projection's dead letters waiting to be retried or skipped.", ['projection']);
    this.#processed = mirrored('annals_projection_events_processed_total', "Events the generation's partitions processed.");
    this.#retries = mirrored('annals_projection_retries_total', "Retries of failed events by the generation's partitions.");
    this.#deadLettered = mirrored('annals_projection_dead_lettered_total', "Events the generation's partitions dead-lettered after their last attempt.");
    const figuresAge = gauge('annals_store_figures_age_seconds', 'Age of the log and projection figures this scrape shows (they are read at most every storeFiguresMaxAgeMs).', []);
    this.#readErrors = new Counter({ name: 'annals_store_read_errors_total', help: 'Reads of the log and projection figures that failed (the last figures read are shown meanwhile).', ...common });
    this.#readDuration = gauge('annals_store_read_duration_seconds', 'How long the last read of the log and projection figures took.', []);
    // Unlabelled gauges start at 0; until a read has set them, they are left out instead
    // (a head of 0 would read as an empty log). remove({}), not reset(): prom-client's
    // reset() of an unlabelled gauge sets it to 0.
    for (const unread of [this.#head, this.#heldBack, figuresAge, this.#readDuration]) unread.remove({});
    this.#figures = new CachedFigures(settings, figuresAge, { read: () => this.#read(), failed: (error) => this.#failed(error) });
  }

  /**
   * Brings the figures up to date unless they are fresh: one read at a time, and a scrape
   * waits for it at most `storeReadTimeoutMs`.
   */
  refresh(): Promise<void> {
    return this.#figures.refresh();
  }

  async #read(): Promise<number> {
    const started = performance.now();
    try {
      const scopes = await projectionsInStore(this.#store, this.#settings.projections);
      const status = await statusOf(this.#store, scopes);
      const [headEvent] = status.head > 0n ? await this.#store.readEventsAt([status.head]) : [];
      const generations = byGeneration(status.partitions);
      // The recording time of each generation's oldest unprocessed event, for its lag in
      // log time: the first event of its scope after its lowest checkpoint (one indexed
      // read of one event per generation that is behind).
      const oldest = new Map<string, Date>();
      for (const [key, partitions] of generations) {
        const scope = scopes.find((s) => s.name === partitions[0]!.projection);
        if (!scope || partitions.every((p) => p.lag === 0)) continue;
        const after = partitions.reduce((low, p) => (p.position < low ? p.position : low), partitions[0]!.position);
        const [event] = await this.#store.readAll({ after, limit: 1, types: scope.eventTypes, ...(scope.categories ? { categories: scope.categories } : {}) });
        if (event) oldest.set(key, event.recordedAt);
      }
      const last = this.#lastHead;
      const appended = last === undefined || status.head <= last ? 0 : (await this.#store.countEvents({ after: last, until: status.head })).count;
      const now = Date.now();
      this.#appended.inc(appended);
      this.#lastHead = status.head;
      this.#head.set(Number(status.head));
      this.#heldBack.set((status.logHeldBackBy?.ageMs ?? 0) / 1000);
      this.#showProjections(status, generations, { head: headEvent?.recordedAt, oldest, now });
      return now;
    } finally {
      this.#readDuration.set((performance.now() - started) / 1000);
    }
  }

  #failed(error: unknown): void {
    this.#readErrors.inc();
    this.#log.warn({ err: error }, 'metrics: could not read the log and projection figures; showing the last ones read');
  }

  #showProjections(status: ProjectionStatus, generations: Map<string, PartitionStatus[]>, times: { head: Date | undefined; oldest: Map<string, Date>; now: number }): void {
    for (const gauge of [this.#lagEvents, this.#lagSeconds, this.#oldestAge, this.#partitions, this.#rebuildProgress, this.#deadLettersPending]) gauge.reset();
    const processed: { labels: Record<GenerationLabel, string>; total: number }[] = [];
    const retries: typeof processed = [];
    const deadLettered: typeof processed = [];
    for (const [key, partitions] of generations) {
      const { projection, generation, status: state } = partitions[0]!;
      const labels = { projection, generation: String(generation), status: state };
      // A partition's lag counts every event of the projection's types after its
      // checkpoint, its own or not: the generation's is the largest, not the sum.
      this.#lagEvents.set(labels, Math.max(...partitions.map((p) => p.lag)));
      this.#oldestAge.set(labels, Math.max(0, ...partitions.map((p) => p.oldestUnprocessedAgeMs ?? 0)) / 1000);
      // Both times are the database's: no clock of this process in between.
      const oldest = times.oldest.get(key);
      this.#lagSeconds.set(labels, oldest && times.head ? Math.max(0, times.head.getTime() - oldest.getTime()) / 1000 : 0);
      const states = { owned: 0, unowned: 0, stopped: 0 };
      for (const p of partitions) states[partitionState(p, times.now)]++;
      for (const [name, count] of Object.entries(states)) this.#partitions.set({ ...labels, state: name }, count);
      if (state === 'building') {
        const shares = partitions.map((p) => p.rebuildProgress ?? 0);
        this.#rebuildProgress.set({ projection, generation: labels.generation }, shares.reduce((a, b) => a + b, 0) / shares.length);
      }
      const sum = (figure: (p: PartitionStatus) => number) => partitions.reduce((total, p) => total + figure(p), 0);
      processed.push({ labels, total: sum((p) => p.eventsProcessed) });
      retries.push({ labels, total: sum((p) => p.retries) });
      deadLettered.push({ labels, total: sum((p) => p.deadLettered) });
    }
    this.#processed.mirror(processed);
    this.#retries.mirror(retries);
    this.#deadLettered.mirror(deadLettered);
    for (const summary of status.projections) this.#deadLettersPending.set({ projection: summary.name }, summary.pendingDeadLetters);
  }
}

/** The partitions of each projection's generation, by `projection\0generation`. */
function byGeneration(partitions: readonly PartitionStatus[]): Map<string, PartitionStatus[]> {
  const generations = new Map<string, PartitionStatus[]>();
  for (const partition of partitions) {
    const key = `${partition.projection}\u0000${partition.generation}`;
    const list = generations.get(key);
    if (list) list.push(partition);
    else generations.set(key, [partition]);
  }
  return generations;
}

function partitionState(partition: PartitionStatus, now: number): 'owned' | 'unowned' | 'stopped' {
  if (partition.stoppedError !== null) return 'stopped';
  const leased = partition.owner !== null && partition.leaseExpiresAt !== null && partition.leaseExpiresAt.getTime() > now;
  return leased ? 'owned' : 'unowned';
}
