/**
 * Runs the order process manager as a process of its own:
 *
 * ```sh
 * DATABASE_URL=postgres://… ANNALS_SCHEMA=annals node --import tsx domain/orders/run-process-manager.ts
 * ```
 *
 * Settings (environment): `DATABASE_URL` (required), `ANNALS_SCHEMA` (default `annals`,
 * migrated already), `ORDER_PM_POLL_MS` (default 500), `ORDER_PM_BATCH_SIZE` (default
 * 100), `ORDER_PM_THROTTLE_MS` (a pause after each event, default 0).
 *
 * SIGTERM or SIGINT stop it after the event in progress; it then exits 0. Killed
 * outright, it loses nothing: each event's work commits with the checkpoint, and the
 * next run resumes from there. It prints one line per event handled.
 */
import { createEventStore } from 'annals';
import { orderProcessManagerName, run } from './order-process-manager.js';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  console.error('DATABASE_URL is required (postgres://user@host:port/database)');
  process.exit(2);
}

const settings = {
  pollMs: whole('ORDER_PM_POLL_MS', 500),
  batchSize: whole('ORDER_PM_BATCH_SIZE', 100),
  throttleMs: whole('ORDER_PM_THROTTLE_MS', 0),
};
const store = createEventStore({ connectionString: databaseUrl }, { schema: process.env.ANNALS_SCHEMA ?? 'annals' });
const stop = new AbortController();
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    console.log(`${signal}: stopping after the event in progress`);
    stop.abort();
  });
}

try {
  const checkpoint = await store.readCheckpoint(orderProcessManagerName).catch((error: unknown) => {
    // Fail fast on a wrong database or an unmigrated schema, rather than retry forever.
    throw new Error(`cannot read the checkpoint in schema "${store.schema}" (is it migrated? npm run migrate)`, { cause: error });
  });
  console.log(`order process manager started on schema "${store.schema}" at checkpoint ${checkpoint}`);
  await run(store, {
    ...settings,
    signal: stop.signal,
    onProcessed: (event) => console.log(`processed ${event.type} of ${event.streamId} at ${event.globalPosition}`),
  });
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
