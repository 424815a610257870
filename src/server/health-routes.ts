import type { FastifyInstance } from 'fastify';
import type { LevelWithSilent } from 'pino';
import { runReadinessChecks, type ReadinessCheck } from './readiness.js';

export interface HealthRoutesOptions {
  /** The checks as they are when a probe arrives (more can be added after start). */
  checks(): readonly ReadinessCheck[];
  timeoutMs: number;
  production: boolean;
}

/**
 * `/healthz`: the process serves HTTP (200 while it does; a liveness probe restarts it
 * when not). Nothing else is asked: a database outage must not get every API process
 * restarted, which cures nothing and drops the requests they hold.
 *
 * `/readyz`: the process can answer requests now: 200 when every readiness check passes,
 * 503 with each check's outcome otherwise (and 503 from fastify itself once close() has
 * begun, so a load balancer stops sending traffic before the process goes).
 *
 * Both log at `warn` and above only (or less, when the service's level is quieter):
 * probes arrive every few seconds, and a line each would bury the service's own.
 */
export function registerHealthRoutes(app: FastifyInstance, options: HealthRoutesOptions): void {
  const logLevel = quieter(app.log.level, 'warn');
  app.get('/healthz', { logLevel }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return { status: 'ok' };
  });

  app.get('/readyz', { logLevel }, async (request, reply) => {
    const report = await runReadinessChecks(options.checks(), {
      timeoutMs: options.timeoutMs,
      production: options.production,
      onFailure: (check, error) => request.log.warn({ check, err: error }, `readiness check '${check}' failed`),
    });
    reply.code(report.status === 'ready' ? 200 : 503).header('cache-control', 'no-store');
    return report;
  });
}

const severity: Record<LevelWithSilent, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/** The quieter of two pino levels: a route's level replaces the service's, and must not raise it. */
function quieter(level: string, atLeast: LevelWithSilent): LevelWithSilent {
  return level in severity && severity[level as LevelWithSilent] > severity[atLeast] ? (level as LevelWithSilent) : atLeast;
}
