import type { Registry } from 'prom-client';
import type { PromClient } from './service-metrics.js';

/**
 * Node's process metrics (`process_cpu_seconds_total`, `nodejs_eventloop_lag_seconds`,
 * `nodejs_gc_duration_seconds`, heap, handles, ...), collected once per process into a
 * registry of their own, which every service of the process serves beside its own.
 *
 * Once per process, not per service, because they describe the process, and because
 * prom-client's collectors cannot be stopped: each call starts a GC observer and an
 * event-loop delay monitor that live as long as the process, so a collection per
 * service (tests start hundreds) would leak them.
 */
let processRegistry: Registry | undefined;

export function processMetricsRegistry(client: PromClient): Registry {
  if (processRegistry === undefined) {
    processRegistry = new client.Registry();
    client.collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}
