/**
 * Prometheus metrics on `/metrics` (issue 14, section 6). A stub until it is built.
 */
import type { FastifyInstance } from 'fastify';
import type { EventStore } from '../../event-store/event-store.js';
import type { ServiceSettings } from '../service-options.js';

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface MetricsOptions {}

/** Registers `/metrics` and the hooks that count requests (before the GraphQL route). */
export async function registerMetrics(_app: FastifyInstance, _store: EventStore, _options: MetricsOptions | false | undefined, _settings: ServiceSettings): Promise<void> {}
