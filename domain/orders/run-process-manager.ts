/**
 * Runs the order process manager as a process of its own:
 *
 * ```sh
 * DATABASE_URL=postgres://… ANNALS_SCHEMA=annals node --import tsx domain/orders/run-process-manager.ts
 * ```
 *
 * Settings (environment): `DATABASE_URL` (required), `ANNALS_SCHEMA` (default `annals`,
 * migrated already), `ORDER_PM_POLL_MS` (default 500), `ORDER_PM_BATCH_SIZE` (default
 * 100), `ORDER_PM_PARTITIONS` (default 4, fixed once it has run in a schema),
 * `ORDER_PM_THROTTLE_MS` (a pause after each event, default 0).
 *
 * Start several: they share the partitions, and take over those of one that dies.
 * SIGTERM or SIGINT stop it after the batches in progress; it then exits 0. Killed
 * outright, it loses nothing: each batch's commands commit with its checkpoint, and the
 * process that takes the partition over resumes from there. It prints one line per
 * batch that handled events.
 */
import { createEventStore, runConsumers } from 'annals';
import { orderProcessManager } from './order-process-manager.js';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  console.error('DATABASE_URL is required (postgres://user@host:port/database)');
  process.exit(2);
}

const pollIntervalMs = whole('ORDER_PM_POLL_MS', 500);
const processManager = orderProcessManager({
  batchSize: Math.max(1, whole('ORDER_PM_BATCH_SIZE', 100)),
  partitions: Math.max(1, whole('ORDER_PM_PARTITIONS', 4)),
  throttleMs: whole('ORDER_PM_THROTTLE_MS', 0),
});
const store = createEventStore({ connectionString: databaseUrl }, { schema: process.env.ANNALS_SCHEMA ?? 'annals' });

try {
  await store.readCheckpoint(processManager.name).catch((error: unknown) => {
    // Fail fast on a wrong database or an unmigrated schema, rather than retry forever.
    throw new Error(`cannot read schema "${store.schema}" (is it migrated? npm run migrate)`, { cause: error });
  });
  const runner = runConsumers(store, [processManager], {
    pollIntervalMs: Math.max(10, pollIntervalMs),
    logger: {
      info: () => {},
      warn: (details, message) => console.error(`order process manager: ${message}`, details),
      error: (details, message) => console.error(`order process manager: ${message}`, details),
    },
    onBatch: ({ partition, events, position }) => {
      if (events > 0) console.log(`processed ${events} events of partition ${partition} up to ${position}`);
    },
  });
  const stopped = new Promise<void>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        console.log(`${signal}: stopping after the batches in progress`);
        void runner.stop().then(resolve);
      });
    }
  });
  await runner.ready;
  console.log(`order process manager started on schema "${store.schema}" as ${runner.workerId}`);
  await stopped;
  console.log('order process manager stopped');
} catch (error) {
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  console.error(`order process manager failed: ${error instanceof Error ? error.message : String(error)}${cause}`);
  process.exitCode = 1;
} finally {
  await store.close();
}

function whole(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) {
    console.error(`${name} must be a whole number >= 0, got '${value}'`);
    process.exit(2);
  }
  return parsed;
}
