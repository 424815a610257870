/**
 * The service's `outboxes` option, reachable from any fastify instance of the service (a
 * resolver's `context.app`): decorated on the app under a symbol, as the metrics are, so
 * that the admin part, composed before the service exists, reads the service's own list.
 */
import type { FastifyInstance } from 'fastify';
import type { Outbox } from '../../outbox/define-outbox.js';

const outboxesKey = Symbol('annals.outboxes');

/** Makes `outboxes` reachable from `app` and every instance registered inside it. */
export function attachOutboxes(app: FastifyInstance, outboxes: readonly Outbox[]): void {
  app.decorate(outboxesKey, outboxes);
}

/** The service's outboxes (none when `app` is not a service's, or it has none). */
export function outboxesOf(app: FastifyInstance | undefined): readonly Outbox[] {
  const outboxes = (app as unknown as Record<symbol, unknown> | undefined)?.[outboxesKey];
  return Array.isArray(outboxes) ? (outboxes as readonly Outbox[]) : [];
}
