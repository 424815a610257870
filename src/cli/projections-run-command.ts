import pino from 'pino';
import type { AnyProjection, EventStore, RunProjectionsOptions } from '../index.js';
import { startRunner } from './run-options.js';
import { listenForStop } from './signals.js';
import { ExitCodes } from './usage-error.js';

/**
 * `annals projections run [NAME...]`: runs the projections' workers in this process
 * until SIGTERM or SIGINT, then stops them cleanly (the batch in flight commits or rolls
 * back, leases are released) and exits 0. Logs are pino's JSON lines on stdout; the first
 * names the database (`database`), so that a worker left on the embedded database by a
 * forgotten DATABASE_URL does not pass for a healthy one with nothing to do.
 *
 * @throws the runner's start-up error (SchemaNotMigratedError; DatabaseUnreachableError
 * for a missing database, role or password; a refused connection or a timeout is retried
 * while it lasts, as a service that boots before its database needs).
 */
export async function projectionsRunCommand(
  store: EventStore,
  projections: readonly AnyProjection[],
  options: RunProjectionsOptions,
  database?: string,
): Promise<number> {
  const logger = pino({ name: 'annals' });
  const stop = listenForStop((signal) => logger.info({ signal }, 'stopping: finishing the batches in flight'));
  try {
    const runner = startRunner(store, projections, { ...options, logger });
    const names = projections.map((p) => p.name);
    logger.info({ worker: runner.workerId, projections: names, database }, 'projection runner starting');
    const first = await Promise.race([runner.ready.then(() => 'ready' as const), stop.received.then(() => 'signal' as const)]).catch(
      async (error: unknown) => {
        await runner.stop();
        throw error;
      },
    );
    if (first === 'ready') {
      logger.info({ worker: runner.workerId, projections: names }, 'projection runner started');
      await stop.received;
    }
    await runner.stop();
    logger.info({ worker: runner.workerId }, 'projection runner stopped; leases released');
    return ExitCodes.ok;
  } finally {
    stop.dispose();
  }
}
