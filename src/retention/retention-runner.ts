import { sleep } from '../backoff.js';
import { silent, type ConsumerLogger } from '../consumers/engine-options.js';
import type { EventStore } from '../event-store/event-store.js';
import type { Retention } from './define-retention.js';
import { runRetention, type RetentionReport } from './run-retention.js';

/** The retention job running in this process, every `retention.runEveryMs`. */
export interface RetentionRunner {
  /** Resolves at once: the first run starts in the background. */
  readonly ready: Promise<void>;
  /** Ends the run in progress between two batches, and runs no more. */
  stop(): Promise<void>;
}

export interface StartRetentionOptions {
  logger?: ConsumerLogger;
  /** Events removed per transaction (default 1,000). */
  batchSize?: number;
  /** Called after each run (for metrics: `retentionRunMetrics(service.app)` from 'annals/server'); what it throws is logged. */
  onRun?: (report: RetentionReport) => void;
}

/**
 * Runs the retention job now and then every `retention.runEveryMs` (the service runs it
 * with `annals start`). Each run is logged: what it removed, and what waits and for
 * whom. A run that fails (the database went away) is logged and tried again at the next
 * interval. Several processes may run it at once: a batch deletes only rows another has
 * not, so each event is removed once.
 *
 * @example
 * ```ts
 * const runner = startRetention(store, retention, { logger: pino() });
 * process.once('SIGTERM', () => void runner.stop());
 * ```
 */
export function startRetention(store: EventStore, retention: Retention, options: StartRetentionOptions = {}): RetentionRunner {
  const logger = options.logger ?? silent;
  const stopping = new AbortController();
  const loop = (async () => {
    while (!stopping.signal.aborted) {
      try {
        const run = await runRetention(store, retention, { signal: stopping.signal, ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }) });
        report(logger, run);
        try {
          options.onRun?.(run);
        } catch (error) {
          logger.warn({ err: error }, 'retention onRun threw; ignored');
        }
      } catch (error) {
        logger.warn({ err: error }, 'retention run failed; trying again at the next interval');
      }
      await sleep(retention.runEveryMs, stopping.signal);
    }
  })();
  return {
    ready: Promise.resolve(),
    stop: async () => {
      stopping.abort();
      await loop;
    },
  };
}

function report(logger: ConsumerLogger, run: RetentionReport): void {
  const removed = run.results.reduce((sum, r) => sum + r.removed, 0);
  const waiting = run.results.reduce((sum, r) => sum + r.waiting, 0);
  if (removed > 0) logger.info({ removed, results: run.results }, 'retention removed expired events');
  if (waiting > 0) {
    const holders = run.heldBackBy.map((holder) => ({ ...holder, position: holder.position.toString() }));
    logger.warn({ waiting, safePosition: run.safePosition.toString(), heldBackBy: holders }, 'expired events wait for readers that still need them');
  }
}
