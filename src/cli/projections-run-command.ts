import pino from 'pino';
import type { AnyProjection, EventStore, RunProjectionsOptions } from '../index.js';
import { startRunner } from './run-options.js';
import { listenForStop } from './signals.js';
import { ExitCodes } from './usage-error.js';

/**
 * `annals projections run [NAME...]`: runs the projections' workers in this process
 * until SIGTERM or SIGINT, then stops them cleanly (the batch in flight commits or rolls
 * back, leases are released) and exits 0. Logs are pino's JSON lines on stdout.
 *
 * @throws the runner's start-up error (schema not migrated, database unreachable).
 */
export async function projectionsRunCommand(store: EventStore, projections: readonly AnyProjection[], options: RunProjectionsOptions): Promise<number> {
  const logger = pino({ name: 'annals' });
  const stop = listenForStop((signal) => logger.info({ signal }, 'stopping: finishing the batches in flight'));
  try {
    const runner = startRunner(store, projections, { ...options, logger });
    const names = projections.map((p) => p.name);
    logger.info({ worker: runner.workerId, projections: names }, 'projection runner starting');
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
