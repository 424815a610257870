/**
 * Prometheus metrics on `/metrics` (issue 14, section 6; docs/operations.md): request
 * rate and latency per route and per GraphQL operation, the log's head and append rate,
 * each projection's lag, partitions, retries and dead letters, subscriptions, the
 * outboxes' backlogs and relays (outbox-metrics.ts), and Node's process metrics, in the
 * Prometheus text format.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { EventStore } from '../../event-store/event-store.js';
import { requireRole, Roles } from '../principal.js';
import { loadOptionalPackage } from '../security/optional-package.js';
import { principalOf } from '../security/register-security.js';
import type { ServiceSettings } from '../service-options.js';
import { checkMetricsOptions, type MetricsSettings } from './metrics-options.js';
import { initOutboxCounters, OutboxStatusMetrics } from './outbox-metrics.js';
import { registerRetentionMetrics } from './retention-metrics.js';
import { PrivacyMetrics } from './privacy-metrics.js';
import { ArchiveMetrics } from './archive-metrics.js';
import { processMetricsRegistry } from './process-metrics.js';
import { registerRequestMetrics } from './request-metrics.js';
import { attachMetrics, ServiceMetrics } from './service-metrics.js';
import { StoreMetrics } from './store-metrics.js';

export type { MetricsOptions } from './metrics-options.js';

/**
 * Registers `/metrics` and the hooks that count requests (before the GraphQL route, so
 * they see it). Does nothing with `options` false.
 *
 * @throws ValidationError naming the option at fault (`options.metrics.access`).
 */
export async function registerMetrics(
  app: FastifyInstance,
  store: EventStore,
  options: Parameters<typeof checkMetricsOptions>[0],
  serviceSettings: ServiceSettings,
): Promise<void> {
  const settings = checkMetricsOptions(options);
  if (settings === false) return;
  const client = await loadOptionalPackage('prom-client', 'options.metrics', () => import('prom-client'));
  const metrics = new ServiceMetrics(client, settings.latencyBuckets);
  attachMetrics(app, metrics);
  registerRequestMetrics(app, metrics, settings.maxOperationNames);
  if (settings.storeFigures) new StoreMetrics(client, store, settings, metrics.registry, app.log);
  const { outboxes } = serviceSettings;
  initOutboxCounters(metrics, outboxes);
  if (settings.storeFigures && outboxes.length > 0) new OutboxStatusMetrics(client, { store, outboxes, settings, registry: metrics.registry, log: app.log });
  registerRetentionMetrics(client, { store, settings, registry: metrics.registry, log: app.log });
  if (settings.storeFigures) new PrivacyMetrics(client, { store, settings, registry: metrics.registry, log: app.log });
  if (settings.storeFigures) new ArchiveMetrics(client, { store, settings, registry: metrics.registry, log: app.log });
  const processRegistry = settings.processMetrics ? processMetricsRegistry(client) : undefined;
  app.get(settings.path, { preHandler: accessCheck(settings) }, async (_request, reply) => {
    const own = await metrics.registry.metrics();
    const text = processRegistry ? `${own}\n${await processRegistry.metrics()}` : own;
    reply.header('content-type', metrics.registry.contentType).header('cache-control', 'no-store');
    return text;
  });
}

/** `access: 'admin'`: the caller's bearer token must hold the admin role (401 or 403 otherwise). */
function accessCheck(settings: MetricsSettings) {
  return async (request: FastifyRequest) => {
    if (settings.access === 'admin') requireRole({ principal: principalOf(request) }, Roles.admin);
  };
}
