/**
 * A projection worker as a process of its own, for the crash tests (test/projections/crash);
 * running-worker.ts starts it:
 *
 * ```sh
 * DATABASE_URL=postgres://… ANNALS_SCHEMA=test_x node --import tsx test/projections/support/worker-script.ts
 * ```
 *
 * It opens a store on `ANNALS_SCHEMA` (migrated already), defines the audited like-counts
 * projection (worker-projection.ts) from its settings (worker-settings.ts) and runs
 * `runProjections` until SIGTERM or SIGINT: it then stops the runner (batches in flight
 * finish or roll back, leases are released), closes the store and exits 0. It reports
 * what it does on stdout (worker-lines.ts).
 *
 * Nothing imports it: it is only run. Nor may it import vitest, directly or not.
 */
import { createEventStore, runProjections, type ProjectionLogger } from 'annals';
import { printLine } from './worker-lines.js';
import { workerProjection } from './worker-projection.js';
import { readWorkerSettings } from './worker-settings.js';

const settings = readWorkerSettings();

// The runner's worker id is known once it is created, after the projection is defined.
let workerId = '';
const { projection, batchCommitted } = workerProjection(settings, () => workerId);

const logger: ProjectionLogger = {
  info: (details, message) => printLine('log', { ...plain(details), level: 'info', message }),
  warn: (details, message) => printLine('log', { ...plain(details), level: 'warn', message }),
  error: (details, message) => printLine('log', { ...plain(details), level: 'error', message }),
};
const store = createEventStore({ connectionString: settings.databaseUrl, maxConnections: settings.maxConnections }, { schema: settings.schema });
const runner = runProjections(store, [projection], {
  ...(settings.workerId ? { workerId: settings.workerId } : {}),
  batchSize: settings.batchSize,
  replayBatchSize: settings.replayBatchSize,
  pollIntervalMs: settings.pollIntervalMs,
  leaseTtlMs: settings.leaseTtlMs,
  retries: { attempts: 3, minDelayMs: 10, maxDelayMs: 50 },
  logger,
  onBatch: (batch) => {
    batchCommitted(batch);
    printLine('batch', { ...batch });
  },
});
workerId = runner.workerId;

let stopping: Promise<void> | undefined;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    stopping ??= (async () => {
      printLine('stopping', { signal });
      try {
        await runner.stop();
        await store.close();
        printLine('stopped');
        process.exit(0);
      } catch (error) {
        printLine('log', { level: 'error', message: `stop failed: ${describe(error)}` });
        process.exit(1);
      }
    })();
  });
}

try {
  await runner.ready;
  printLine('ready', { worker: runner.workerId, pid: process.pid });
} catch (error) {
  printLine('log', { level: 'error', message: `failed to start: ${describe(error)}` });
  process.exit(1);
}

/** The logger's details, with errors as text: JSON.stringify prints an Error as `{}`. */
function plain(details: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(details)) out[key] = value instanceof Error ? describe(value) : value;
  return out;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
