/**
 * A projection worker as a process of its own, for the crash tests (test/projections/crash).
 *
 * Run as a script, it is the worker:
 *
 * ```sh
 * DATABASE_URL=postgres://… ANNALS_SCHEMA=test_x node --import tsx test/projections/support/worker-process.ts
 * ```
 *
 * It opens a store on `ANNALS_SCHEMA` (migrated already), defines the audited like-counts
 * projection below from its settings and runs `runProjections` until SIGTERM or SIGINT:
 * it then stops the runner (batches in flight finish or roll back, leases are released),
 * closes the store and exits 0.
 *
 * Imported, it gives the tests what they need around it: `startWorker` (spawn one),
 * `killAllWorkers`, `disconnected`, `terminate`. What they read back (the projection's
 * tables, the log) is in read-model.ts.
 *
 * Settings (environment; see WorkerSettings for what each does):
 * `PROJECTION_NAME`, `PROJECTION_VERSION`, `PROJECTION_PARTITIONS`, `PROJECTION_CATEGORY`,
 * `LIKE_WEIGHT`, `APPLY_DELAY_MS`, `TRACE_APPLIED`, `WORKER_ID`, `BATCH_SIZE`,
 * `REPLAY_BATCH_SIZE`, `POLL_MS`, `LEASE_TTL_MS`, `MAX_CONNECTIONS`, `HOLD_AFTER_APPLIED`.
 *
 * It prints one JSON object per line on stdout, each with `at` (Date.now()) and `kind`:
 * `ready`, `batch` (a committed batch, from onBatch), `applied` (TRACE_APPLIED: an event
 * applied, before its batch commits), `holding` (HOLD_AFTER_APPLIED: waiting inside a
 * batch's transaction to be killed), `log` (the runner's logger), `stopping`, `stopped`.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEventStore, defineProjection, runProjections, type EventStore, type ProjectionLogger } from 'annals';
import { sql } from 'kysely';
import { killAllScripts, startScript } from '../../setup/child-process.js';
import { eventually } from '../../setup/eventually.js';
import { likeEvents } from '../../../domain/likes/likes.events.js';
import { likeCounts } from '../../../projections/like-counts/like-counts.projection.js';

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

/** One line the worker printed. */
export interface WorkerLine {
  at: number;
  kind: 'ready' | 'batch' | 'applied' | 'holding' | 'log' | 'stopping' | 'stopped';
  worker?: string;
  pid?: number;
  // batch
  projection?: string;
  generation?: number;
  partition?: number;
  replaying?: boolean;
  events?: number;
  position?: string;
  caughtUp?: boolean;
  // log
  level?: string;
  message?: string;
  [key: string]: unknown;
}

const entry = fileURLToPath(import.meta.url);
const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === entry;

if (isMain) await main();

// ---------------------------------------------------------------------------------------
// The worker (run as a script)
// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const env = process.env;
  const settings = {
    databaseUrl: required('DATABASE_URL'),
    schema: required('ANNALS_SCHEMA'),
    name: env.PROJECTION_NAME || 'audited-likes',
    version: whole('PROJECTION_VERSION', 1),
    partitions: whole('PROJECTION_PARTITIONS', 1),
    category: env.PROJECTION_CATEGORY || undefined,
    likeWeight: whole('LIKE_WEIGHT', 1),
    applyDelayMs: whole('APPLY_DELAY_MS', 0),
    traceApplied: env.TRACE_APPLIED === '1',
    workerId: env.WORKER_ID || undefined,
    batchSize: whole('BATCH_SIZE', 500),
    replayBatchSize: whole('REPLAY_BATCH_SIZE', 5000),
    pollIntervalMs: whole('POLL_MS', 200),
    leaseTtlMs: whole('LEASE_TTL_MS', 2000),
    maxConnections: whole('MAX_CONNECTIONS', 4),
    holdAfterApplied: whole('HOLD_AFTER_APPLIED', 0),
  };
  const print = (kind: WorkerLine['kind'], details: Record<string, unknown> = {}) =>
    console.log(JSON.stringify({ at: Date.now(), kind, ...details }, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)));

  // Like counts per post, audited: besides `like_counts`, `applied_events` holds one row
  // per event applied, with how many times it was (`times`, which must stay 1), which
  // worker and partition applied it, and `seq`, the order of application (a sequence is
  // taken in apply order, and one transaction at a time applies a partition's events).
  let workerId = '';
  // For HOLD_AFTER_APPLIED, per partition: a batch of events committed, and the events
  // applied since the last commit. A partition's batches run one at a time.
  const committed = new Set<number>();
  const sinceCommit = new Map<number, number>();
  const projection = defineProjection({
    name: settings.name,
    version: settings.version,
    events: likeEvents,
    partitions: settings.partitions,
    ...(settings.category ? { categories: [settings.category] } : {}),
    schema: async (db) => {
      await likeCounts.definition.schema(db);
      await db.schema
        .createTable('applied_events')
        .addColumn('event_id', 'uuid', (c) => c.primaryKey())
        .addColumn('seq', 'bigserial', (c) => c.notNull())
        .addColumn('global_position', 'bigint', (c) => c.notNull())
        .addColumn('stream_id', 'text', (c) => c.notNull())
        .addColumn('stream_version', 'integer', (c) => c.notNull())
        .addColumn('partition', 'integer', (c) => c.notNull())
        .addColumn('worker', 'text', (c) => c.notNull())
        .addColumn('times', 'integer', (c) => c.notNull())
        .addColumn('applied_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`clock_timestamp()`))
        .execute();
    },
    apply: async (event, { db, partition }) => {
      const delta = event.type === 'LikeCreated' ? settings.likeWeight : -settings.likeWeight;
      await db
        .insertInto('like_counts')
        .values({ post_id: event.data.postId, likes: delta })
        .onConflict((oc) => oc.column('post_id').doUpdateSet({ likes: sql`like_counts.likes + ${delta}` }))
        .execute();
      // An upsert, not a plain insert: an event applied twice must show as times = 2, not
      // as a unique violation that the runner would retry and dead-letter out of sight.
      await db
        .insertInto('applied_events')
        .values({
          event_id: event.id,
          global_position: event.globalPosition.toString(),
          stream_id: event.streamId,
          stream_version: event.version,
          partition,
          worker: workerId,
          times: 1,
        })
        .onConflict((oc) => oc.column('event_id').doUpdateSet({ times: sql`applied_events.times + 1` }))
        .execute();
      if (settings.traceApplied) print('applied', { position: event.globalPosition, partition });
      if (settings.applyDelayMs > 0) await sql`SELECT pg_sleep(${settings.applyDelayMs / 1000})`.execute(db);
      sinceCommit.set(partition, (sinceCommit.get(partition) ?? 0) + 1);
      if (settings.holdAfterApplied > 0 && committed.has(partition) && sinceCommit.get(partition)! >= settings.holdAfterApplied) {
        print('holding', { position: event.globalPosition, partition });
        await new Promise(() => {});
      }
    },
  });

  const logger: ProjectionLogger = {
    info: (details, message) => print('log', { ...plain(details), level: 'info', message }),
    warn: (details, message) => print('log', { ...plain(details), level: 'warn', message }),
    error: (details, message) => print('log', { ...plain(details), level: 'error', message }),
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
      if (batch.events > 0) committed.add(batch.partition);
      sinceCommit.set(batch.partition, 0);
      print('batch', { ...batch });
    },
  });
  workerId = runner.workerId;

  let stopping: Promise<void> | undefined;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      stopping ??= (async () => {
        print('stopping', { signal });
        try {
          await runner.stop();
          await store.close();
          print('stopped');
          process.exit(0);
        } catch (error) {
          print('log', { level: 'error', message: `stop failed: ${describe(error)}` });
          process.exit(1);
        }
      })();
    });
  }

  try {
    await runner.ready;
    print('ready', { worker: runner.workerId, pid: process.pid });
  } catch (error) {
    print('log', { level: 'error', message: `failed to start: ${describe(error)}` });
    process.exit(1);
  }
}

function plain(details: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(details)) out[key] = value instanceof Error ? describe(value) : value;
  return out;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

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

// ---------------------------------------------------------------------------------------
// For the tests
// ---------------------------------------------------------------------------------------

export interface RunningWorker {
  readonly child: ChildProcess;
  readonly settings: WorkerSettings;
  /** Lines printed on stdout so far, parsed. */
  readonly lines: WorkerLine[];
  /** Its runner's worker id, once `ready` was printed. */
  readonly workerId: string | undefined;
  /** The application_name of its connections (PGAPPNAME), unique to this process: see `disconnected`. */
  readonly connectionName: string;
  /** How it ended: the exit code, or the signal that killed it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once `test` holds for the lines printed; throws if it exits or the time runs out first. */
  waitFor(test: (lines: readonly WorkerLine[]) => boolean, timeoutMs?: number): Promise<void>;
  /** What it printed, for failure messages. */
  output(): string;
}

/** Starts this file as a worker process on `schema` (see startScript for how). */
export function startWorker(databaseUrl: string, schema: string, settings: WorkerSettings = {}): RunningWorker {
  const env: Record<string, string> = { DATABASE_URL: databaseUrl, ANNALS_SCHEMA: schema };
  const names: [keyof WorkerSettings, string][] = [
    ['name', 'PROJECTION_NAME'],
    ['version', 'PROJECTION_VERSION'],
    ['partitions', 'PROJECTION_PARTITIONS'],
    ['category', 'PROJECTION_CATEGORY'],
    ['likeWeight', 'LIKE_WEIGHT'],
    ['applyDelayMs', 'APPLY_DELAY_MS'],
    ['workerId', 'WORKER_ID'],
    ['batchSize', 'BATCH_SIZE'],
    ['replayBatchSize', 'REPLAY_BATCH_SIZE'],
    ['pollIntervalMs', 'POLL_MS'],
    ['leaseTtlMs', 'LEASE_TTL_MS'],
    ['maxConnections', 'MAX_CONNECTIONS'],
    ['holdAfterApplied', 'HOLD_AFTER_APPLIED'],
  ];
  for (const [key, variable] of names) if (settings[key] !== undefined) env[variable] = String(settings[key]);
  if (settings.traceApplied) env.TRACE_APPLIED = '1';
  // pg names every connection of the process after PGAPPNAME (its pool and its LISTEN client).
  const connectionName = `annals-test-worker-${randomUUID().slice(0, 8)}`;
  env.PGAPPNAME = connectionName;
  const lines: WorkerLine[] = [];
  const raw: string[] = [];
  let workerId: string | undefined;
  const script = startScript(entry, env, (line) => {
    raw.push(line);
    try {
      const parsed = JSON.parse(line) as WorkerLine;
      if (parsed.kind === 'ready') workerId = parsed.worker;
      lines.push(parsed);
    } catch {
      // Not one of ours (a warning printed by node): kept in `raw` for failure messages.
    }
  });
  const output = () => `stdout (last 40 lines):\n${raw.slice(-40).join('\n')}\nstderr:\n${script.stderr()}`;

  return {
    child: script.child,
    settings,
    lines,
    get workerId() {
      return workerId;
    },
    connectionName,
    exited: script.exited,
    // A guard against a hang, not a measure of speed: on a loaded 2-core machine a worker
    // can take tens of seconds to start (node, tsx's transform, its connections, set-up).
    waitFor: (test, timeoutMs = 60_000) =>
      script.waitUntil(() => test(lines), timeoutMs, (why) => `worker ${settings.workerId ?? ''}: ${why}; ${output()}`),
    output,
  };
}

/** Kills (SIGKILL) every worker a test left running, and waits for them to exit (for afterEach). */
export const killAllWorkers = killAllScripts;

/**
 * Resolves once the database serves no connection of `worker` (killed: call it after
 * `exited`). Then what it left is final: a transaction it had open is rolled back, one
 * whose COMMIT was on its way when it died has committed, and its leases and heartbeat
 * say what they will say until another worker changes them.
 */
export async function disconnected(store: EventStore, worker: RunningWorker, timeoutMs = 30_000): Promise<void> {
  await eventually(async () => {
    const [row] = await store.withTransaction((tx) =>
      tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1`, [worker.connectionName]),
    );
    if (row!.n > 0) throw new Error(`worker ${worker.settings.workerId ?? ''}: ${row!.n} connections still open ${timeoutMs} ms after it exited`);
  }, timeoutMs);
}

/** Sends SIGTERM and returns how it exited and how long that took. */
export async function terminate(worker: RunningWorker): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const sent = Date.now();
  worker.child.kill('SIGTERM');
  const exit = await worker.exited;
  return { ...exit, ms: Date.now() - sent };
}

/** The batches a worker committed, optionally for one partition. */
export const batches = (lines: readonly WorkerLine[], partition?: number) =>
  lines.filter((line) => line.kind === 'batch' && (partition === undefined || line.partition === partition));
