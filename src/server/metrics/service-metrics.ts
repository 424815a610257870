/**
 * The metrics one service keeps in its own registry (never prom-client's global one: two
 * services in one process, as in tests, would count into each other's), and how the
 * service's other parts reach them: through the fastify instance, on which the registry's
 * owner is decorated under a symbol (child instances, mercurius' among them, inherit it).
 */
import type { FastifyInstance } from 'fastify';
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** prom-client, loaded when the service has metrics on (an optional peer dependency). */
export type PromClient = typeof import('prom-client');

const serviceMetricsKey = Symbol('annals.serviceMetrics');

/** Why a subscription ended, as `annals_graphql_subscriptions_ended_total` counts it. */
export type SubscriptionEndReason = 'completed' | 'client-gone' | 'dropped' | 'failed' | 'shutdown';

/** One subscription being counted: call `end` once when it ends (later calls do nothing). */
export interface TrackedSubscription {
  end(reason: SubscriptionEndReason): void;
}

export class ServiceMetrics {
  readonly registry: Registry;
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  readonly operationDuration: Histogram<'operation_name' | 'operation_type' | 'outcome'>;
  readonly subscriptionsActive: Gauge<'field'>;
  readonly subscriptionsEnded: Counter<'field' | 'reason'>;
  readonly eventsAppended: Counter<'category'>;
  /** Fed by a relay running in this process through `outboxRelayMetrics` (outbox-metrics.ts). */
  readonly outboxPublished: Counter<'outbox' | 'destination'>;
  readonly outboxPublishFailures: Counter<'outbox' | 'destination' | 'retryable'>;
  readonly outboxParked: Counter<'outbox' | 'destination'>;

  constructor(client: PromClient, latencyBuckets: readonly number[]) {
    const { Counter, Gauge, Histogram, Registry } = client;
    this.registry = new Registry();
    const registers = [this.registry];
    const buckets = [...latencyBuckets];
    this.httpDuration = new Histogram({
      name: 'annals_http_request_duration_seconds',
      help: 'HTTP requests by method, route pattern and status code: from the request to the answer sent.',
      labelNames: ['method', 'route', 'status_code'],
      buckets,
      registers,
    });
    this.operationDuration = new Histogram({
      name: 'annals_graphql_operation_duration_seconds',
      help: 'GraphQL operations executed, by operation name and type and whether the result had errors: from the request to the result.',
      labelNames: ['operation_name', 'operation_type', 'outcome'],
      buckets,
      registers,
    });
    this.subscriptionsActive = new Gauge({
      name: 'annals_graphql_subscriptions',
      help: 'GraphQL subscriptions open on this process, by subscription field.',
      labelNames: ['field'],
      registers,
    });
    this.subscriptionsEnded = new Counter({
      name: 'annals_graphql_subscriptions_ended_total',
      help: 'GraphQL subscriptions ended on this process, by field and reason (completed, client-gone, dropped, failed, shutdown).',
      labelNames: ['field', 'reason'],
      registers,
    });
    this.eventsAppended = new Counter({
      name: 'annals_events_appended_total',
      help: "Events appended by this process's mutations, by stream category.",
      labelNames: ['category'],
      registers,
    });
    this.outboxPublished = new Counter({
      name: 'annals_outbox_messages_published_total',
      help: "Outbox messages the destination acknowledged, published by this process's relays.",
      labelNames: ['outbox', 'destination'],
      registers,
    });
    this.outboxPublishFailures = new Counter({
      name: 'annals_outbox_publish_failures_total',
      help: "Failed attempts at publishing an outbox message by this process's relays; retryable=false: refused for good (parked at once).",
      labelNames: ['outbox', 'destination', 'retryable'],
      registers,
    });
    this.outboxParked = new Counter({
      name: 'annals_outbox_messages_parked_total',
      help: "Outbox messages this process's relays parked (refused, out of attempts, or failing the route's schema): their keys are held until a retry or skip.",
      labelNames: ['outbox', 'destination'],
      registers,
    });
  }

  trackSubscription(field: string): TrackedSubscription {
    this.subscriptionsActive.inc({ field });
    let ended = false;
    return {
      end: (reason) => {
        if (ended) return;
        ended = true;
        this.subscriptionsActive.dec({ field });
        this.subscriptionsEnded.inc({ field, reason });
      },
    };
  }
}

/** Makes `metrics` reachable from `app` and every instance registered inside it. */
export function attachMetrics(app: FastifyInstance, metrics: ServiceMetrics): void {
  app.decorate(serviceMetricsKey, metrics);
}

/** The service's metrics, from any fastify instance of it (a request's `server`, a resolver's `context.app`). */
export function metricsOf(app: FastifyInstance | undefined): ServiceMetrics | undefined {
  const metrics = (app as unknown as Record<symbol, unknown> | undefined)?.[serviceMetricsKey];
  return metrics instanceof ServiceMetrics ? metrics : undefined;
}

const untracked: TrackedSubscription = { end: () => {} };

/**
 * Counts a subscription in `annals_graphql_subscriptions{field}` until `end` is called,
 * then in `annals_graphql_subscriptions_ended_total{field, reason}`. `app` is any fastify
 * instance of the service: a resolver's `context.app`, a request's `server`. Does nothing
 * when the service has metrics off.
 *
 * @example
 * ```ts
 * const tracked = trackSubscription(context.app, 'postLikes');
 * try { for await (const update of updates) yield update; tracked.end('completed'); }
 * catch (error) { tracked.end('failed'); throw error; }
 * ```
 */
export function trackSubscription(app: FastifyInstance | undefined, field: string): TrackedSubscription {
  return metricsOf(app)?.trackSubscription(field) ?? untracked;
}

/**
 * Counts `count` events a mutation appended to streams of `category`, in
 * `annals_events_appended_total{category}`. Does nothing when the service has metrics off.
 *
 * @example
 * ```ts
 * countAppendedEvents(context.app, 'post', result.events.length);
 * ```
 */
export function countAppendedEvents(app: FastifyInstance | undefined, category: string, count: number): void {
  if (count > 0) metricsOf(app)?.eventsAppended.inc({ category }, count);
}

/**
 * The service's own prometheus registry, to register metrics of yours that `/metrics`
 * then serves; undefined when the service has metrics off.
 *
 * @example
 * ```ts
 * const registry = metricsRegistry(service.app);
 * if (registry) new Counter({ name: 'shop_checkouts_total', help: 'Checkouts.', registers: [registry] });
 * ```
 */
export function metricsRegistry(app: FastifyInstance): Registry | undefined {
  return metricsOf(app)?.registry;
}
