/**
 * How a test configures a worker process (worker-script.ts): `WorkerSettings` on the test's
 * side, passed as environment variables, read back with defaults in the child. Both sides
 * take the variable names from `variables`, so they cannot drift apart.
 */

export interface WorkerSettings {
  /** Projection name (default `audited-likes`): one per test, so tests sharing a schema do not meet. */
  name?: string;
  version?: number;
  partitions?: number;
  /** Only streams of this category (each test appends to a category of its own). */
  category?: string;
  /** What one like adds to a count (default 1; 2 is the deliberate bug of a version 1). */
  likeWeight?: number;
  /** A `pg_sleep` after each event's writes, inside the batch's transaction (default 0). */
  applyDelayMs?: number;
  /** Print an `applied` line for each event, before its batch commits. */
  traceApplied?: boolean;
  workerId?: string;
  batchSize?: number;
  replayBatchSize?: number;
  pollIntervalMs?: number;
  leaseTtlMs?: number;
  /** Pool size of the worker's store (default 4: several processes share max_connections). */
  maxConnections?: number;
  /**
   * Once a partition has committed a batch of events in this process, the worker applies
   * this many events of the partition's next batch, prints `holding` and waits, inside
   * that batch's open transaction, for the test to kill it: a kill that lands mid-batch
   * for certain, whatever the load (a kill timed on the trace could land after the
   * commit). Only for SIGKILL: a held batch never ends, so SIGTERM would never finish.
   */
  holdAfterApplied?: number;
}

const variables = {
  name: 'PROJECTION_NAME',
  version: 'PROJECTION_VERSION',
  partitions: 'PROJECTION_PARTITIONS',
  category: 'PROJECTION_CATEGORY',
  likeWeight: 'LIKE_WEIGHT',
  applyDelayMs: 'APPLY_DELAY_MS',
  traceApplied: 'TRACE_APPLIED',
  workerId: 'WORKER_ID',
  batchSize: 'BATCH_SIZE',
  replayBatchSize: 'REPLAY_BATCH_SIZE',
  pollIntervalMs: 'POLL_MS',
  leaseTtlMs: 'LEASE_TTL_MS',
  maxConnections: 'MAX_CONNECTIONS',
  holdAfterApplied: 'HOLD_AFTER_APPLIED',
} as const satisfies Record<keyof WorkerSettings, string>;

/** The environment that gives a worker process `settings` on the store in `schema` of `databaseUrl`. */
export function workerEnvironment(databaseUrl: string, schema: string, settings: WorkerSettings): Record<string, string> {
  const env: Record<string, string> = { DATABASE_URL: databaseUrl, ANNALS_SCHEMA: schema };
  for (const key of Object.keys(variables) as (keyof WorkerSettings)[]) {
    if (key === 'traceApplied') continue;
    if (settings[key] !== undefined) env[variables[key]] = String(settings[key]);
  }
  if (settings.traceApplied) env[variables.traceApplied] = '1';
  return env;
}

/**
 * In the worker process: its settings, read from its environment, with the defaults
 * filled in. A missing or malformed variable ends the process with code 2.
 */
export function readWorkerSettings() {
  const env = process.env;
  return {
    databaseUrl: required('DATABASE_URL'),
    schema: required('ANNALS_SCHEMA'),
    name: env[variables.name] || 'audited-likes',
    version: whole(variables.version, 1),
    partitions: whole(variables.partitions, 1),
    category: env[variables.category] || undefined,
    likeWeight: whole(variables.likeWeight, 1),
    applyDelayMs: whole(variables.applyDelayMs, 0),
    traceApplied: env[variables.traceApplied] === '1',
    workerId: env[variables.workerId] || undefined,
    batchSize: whole(variables.batchSize, 500),
    replayBatchSize: whole(variables.replayBatchSize, 5000),
    pollIntervalMs: whole(variables.pollIntervalMs, 200),
    leaseTtlMs: whole(variables.leaseTtlMs, 2000),
    maxConnections: whole(variables.maxConnections, 4),
    holdAfterApplied: whole(variables.holdAfterApplied, 0),
  };
}

/** What the worker process runs with, every default filled in. */
export type ResolvedWorkerSettings = ReturnType<typeof readWorkerSettings>;

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is required`);
    process.exit(2);
  }
  return value;
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
