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
 * `killAllWorkers`, and queries on the projection's tables and on the log.
 *
 * Settings (environment; see WorkerSettings for what each does):
 * `PROJECTION_NAME`, `PROJECTION_VERSION`, `PROJECTION_PARTITIONS`, `PROJECTION_CATEGORY`,
 * `LIKE_WEIGHT`, `APPLY_DELAY_MS`, `TRACE_APPLIED`, `WORKER_ID`, `BATCH_SIZE`,
 * `REPLAY_BATCH_SIZE`, `POLL_MS`, `LEASE_TTL_MS`, `MAX_CONNECTIONS`.
 *
 * It prints one JSON object per line on stdout, each with `at` (Date.now()) and `kind`:
 * `ready`, `batch` (a committed batch, from onBatch), `applied` (TRACE_APPLIED: an event
 * applied, before its batch commits), `log` (the runner's logger), `stopping`, `stopped`.
 */
import type { ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEventStore, defineProjection, readSchemaOf, runProjections, type EventStore, type ProjectionLogger } from 'annals';
import { sql } from 'kysely';
import type { ExpectStatic } from 'vitest';
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
}

/** One line the worker printed. */
export interface WorkerLine {
  at: number;
  kind: 'ready' | 'batch' | 'applied' | 'log' | 'stopping' | 'stopped';
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
  };
  const print = (kind: WorkerLine['kind'], details: Record<string, unknown> = {}) =>
    console.log(JSON.stringify({ at: Date.now(), kind, ...details }, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)));

  // Like counts per post, audited: besides `like_counts`, `applied_events` holds one row
  // per event applied, with how many times it was (`times`, which must stay 1), which
  // worker and partition applied it, and `seq`, the order of application (a sequence is
  // taken in apply order, and one transaction at a time applies a partition's events).
  let workerId = '';
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
    onBatch: (batch) => print('batch', { ...batch }),
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
  ];
  for (const [key, variable] of names) if (settings[key] !== undefined) env[variable] = String(settings[key]);
  if (settings.traceApplied) env.TRACE_APPLIED = '1';
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
    exited: script.exited,
    waitFor: (test, timeoutMs = 20_000) =>
      script.waitUntil(() => test(lines), timeoutMs, (why) => `worker ${settings.workerId ?? ''}: ${why}; ${output()}`),
    output,
  };
}

/** Kills (SIGKILL) every worker a test left running, and waits for them to exit (for afterEach). */
export const killAllWorkers = killAllScripts;

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

/** Where the read views of the projection named `name` live for a store in `storeSchema`. */
export function readSchema(storeSchema: string, name: string): string {
  // readSchemaOf only looks at the name and readSchema; any definition with this name will do.
  return readSchemaOf(storeSchema, defineProjection({ name, version: 1, events: likeEvents, schema: async () => {}, apply: async () => {} }));
}

export interface AppliedEvent {
  event_id: string;
  seq: number;
  global_position: string;
  stream_id: string;
  stream_version: number;
  partition: number;
  worker: string;
  times: number;
  applied_at: Date;
}

/** The live read model through its views: counts per post and the audit of applied events. */
export async function readModel(store: EventStore, name: string): Promise<{ counts: Record<string, number>; applied: AppliedEvent[] }> {
  const schema = readSchema(store.schema, name);
  return store.withTransaction(async (tx) => {
    const counts = await tx.query<{ post_id: string; likes: number }>(`SELECT post_id, likes FROM "${schema}".like_counts`);
    const applied = await tx.query<AppliedEvent>(
      `SELECT event_id, seq::int AS seq, global_position::text AS global_position, stream_id, stream_version, partition, worker, times, applied_at
         FROM "${schema}".applied_events ORDER BY seq`,
    );
    return { counts: Object.fromEntries(counts.map((row) => [row.post_id, row.likes])), applied };
  });
}

/**
 * The fold of the committed log of `category`, straight from the events table (no
 * visibility bound: the tests call it once every writer has finished): the like count of
 * each post, and the ids of the events.
 */
export async function foldOfLog(store: EventStore, category: string): Promise<{ counts: Record<string, number>; eventIds: string[]; head: bigint }> {
  const rows = await store.withTransaction((tx) =>
    tx.query<{ event_id: string; type: string; post_id: string; global_position: string }>(
      `SELECT event_id, type, data->>'postId' AS post_id, global_position::text AS global_position
         FROM "${tx.schema}".events WHERE category = $1 ORDER BY global_position`,
      [category],
    ),
  );
  const counts: Record<string, number> = {};
  for (const row of rows) counts[row.post_id] = (counts[row.post_id] ?? 0) + (row.type === 'LikeCreated' ? 1 : -1);
  return { counts, eventIds: rows.map((row) => row.event_id).sort(), head: BigInt(rows.at(-1)?.global_position ?? 0) };
}

export interface PartitionRow {
  generation: number;
  partition: number;
  position: bigint;
  owner: string | null;
  status: string;
  version: number;
}

/** The checkpoints and owners of a projection's partitions, every generation. */
export async function partitionsOf(store: EventStore, name: string): Promise<PartitionRow[]> {
  const rows = await store.withTransaction((tx) =>
    tx.query<{ generation: number; partition: number; position: string; owner: string | null; status: string; version: number }>(
      `SELECT p.generation, p.partition, p.position::text AS position, p.owner, g.status, g.version
         FROM "${tx.schema}".projection_partitions p
         JOIN "${tx.schema}".projection_generations g USING (projection, generation)
        WHERE p.projection = $1 ORDER BY p.generation, p.partition`,
      [name],
    ),
  );
  return rows.map((row) => ({ ...row, position: BigInt(row.position) }));
}

/** Random likes and unlikes on `posts` posts of `category`, appended in streams of a few events. */
export function likesFor(category: string, posts: number, count: number, salt = ''): { streamId: string; events: { type: string; data: { postId: string; userId: string }; schemaVersion?: number }[] }[] {
  const streams = new Map<string, { type: string; data: { postId: string; userId: string }; schemaVersion?: number }[]>();
  for (let i = 0; i < count; i++) {
    const post = `p${i % posts}`;
    const streamId = `${category}-${post}`;
    const events = streams.get(streamId) ?? [];
    // Every fifth round over the posts is of unlikes: a read model that applied events
    // twice or missed some shows it in the counts, not only in the audit table.
    const event = Math.floor(i / posts) % 5 === 4 ? { type: 'LikeRemoved', data: { postId: post, userId: `u${salt}${i}` } } : { type: 'LikeCreated', data: { postId: post, userId: `u${salt}${i}` }, schemaVersion: 2 };
    events.push(event);
    streams.set(streamId, events);
  }
  return [...streams].map(([streamId, events]) => ({ streamId, events }));
}

// ---------------------------------------------------------------------------------------
// The takeover scenario, shared by crash/takeover-*.int.test.ts (`expect` comes from the
// test: this module is also the worker's entry, which must not load vitest)
// ---------------------------------------------------------------------------------------

export const leaseTtlMs = 2000;
// A worker renews its leases every third of the TTL, so a dead owner's lease runs out at
// most one TTL after the kill, and a survivor's next membership round (one more third)
// claims it. The margin is for start-up of the batch and a loaded machine (2 cores).
export const takeoverBoundMs = leaseTtlMs + leaseTtlMs / 3 + 1500;

/** Appends likes and unlikes to `posts` posts of `category`, in transactions of 2 events, until stopped. */
function startWriter(store: EventStore, category: string, posts: number): { stop(): Promise<void> } {
  let stopping = false;
  const running = (async () => {
    for (let i = 0; !stopping; i++) {
      const post = `p${i % posts}`;
      await store.appendToStream(`${category}-${post}`, [
        { type: 'LikeCreated', data: { postId: post, userId: `u${i}` }, schemaVersion: 2 },
        i % 3 === 0 ? { type: 'LikeRemoved', data: { postId: post, userId: `u${i}` } } : { type: 'LikeCreated', data: { postId: post, userId: `v${i}` }, schemaVersion: 2 },
      ]);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  // Its failure (say, the store closed under it) is reported by stop().
  running.catch(() => {});
  return {
    stop: async () => {
      stopping = true;
      await running;
    },
  };
}

/**
 * `processes` workers on one projection of `partitions` partitions while a writer appends:
 * balanced, the owner of partition 0 is killed (SIGKILL), a survivor takes its partitions
 * over, and at the end every event was applied exactly once. See the test files for what
 * it catches.
 */
export async function takeoverScenario(
  store: EventStore,
  databaseUrl: string,
  { processes, partitions }: { processes: number; partitions: number },
  expect: ExpectStatic,
): Promise<void> {
  const category = `takeover${processes}x${partitions}`;
  const name = `takeover-${processes}x${partitions}`;
  const workers: RunningWorker[] = [];
  for (let i = 0; i < processes; i++) {
    workers.push(startWorker(databaseUrl, store.schema, { name, category, partitions, leaseTtlMs, pollIntervalMs: 50, batchSize: 20, workerId: `${name}-w${i}` }));
  }
  await Promise.all(workers.map((worker) => worker.waitFor((lines) => lines.some((line) => line.kind === 'ready'), 30_000)));
  const writer = startWriter(store, category, 16);
  try {

    // Balanced: every partition owned, by as many processes as there is work for.
    const owners = await eventually(async () => {
      const rows = (await partitionsOf(store, name)).filter((row) => row.status === 'live');
      expect(rows).toHaveLength(partitions);
      expect(rows.every((row) => row.owner !== null)).toBe(true);
      expect(new Set(rows.map((row) => row.owner)).size).toBe(Math.min(processes, partitions));
      return rows;
    }, 20_000);
    // Every owner has committed work before the kill.
    await Promise.all(
      workers.filter((worker) => owners.some((row) => row.owner === worker.workerId)).map((worker) => worker.waitFor((lines) => batches(lines).some((b) => b.events! > 0), 30_000)),
    );

    const victimId = owners.find((row) => row.partition === 0)!.owner!;
    const victim = workers.find((worker) => worker.workerId === victimId)!;
    const survivors = workers.filter((worker) => worker !== victim);
    const leases = await leasesOf(store, name, victimId);
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    expect(await victim.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(leases.length).toBeGreaterThan(0);

    // Each of the dead owner's partitions: the first checkpoint a survivor commits.
    for (const { partition, expiresAt } of leases) {
      let takenOverAt = 0;
      await eventually(async () => {
        const first = survivors
          .flatMap((worker) => batches(worker.lines, partition).filter((b) => b.at > killedAt))
          .sort((a, b) => a.at - b.at)[0];
        expect(first, `partition ${partition} not taken over`).toBeDefined();
        takenOverAt = first!.at;
      }, 15_000);
      const claims = survivors.flatMap((worker) => worker.lines.filter((line) => line.message === 'partition claimed' && line.partition === partition && line.at > killedAt));
      expect(takenOverAt - killedAt, `partition ${partition} taken over ${takenOverAt - killedAt} ms after the kill`).toBeLessThanOrEqual(takeoverBoundMs);
      // Not before the dead owner's lease ran out (same host, same clock; 50 ms for rounding).
      expect(Math.min(...claims.map((line) => line.at))).toBeGreaterThanOrEqual(expiresAt - 50);
    }

    // The writer goes on a little after the takeover, then stops; the survivors catch up.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await writer.stop();
    const log = await foldOfLog(store, category);
    await eventually(async () => expect((await readModel(store, name)).applied.length).toBe(log.eventIds.length), 30_000);
    const exits = await Promise.all(survivors.map((worker) => terminate(worker)));
    expect(exits.map(({ code, signal }) => ({ code, signal }))).toEqual(survivors.map(() => ({ code: 0, signal: null })));

    const model = await readModel(store, name);
    expect(model.applied.filter((event) => event.times !== 1)).toEqual([]);
    expect(model.applied.map((event) => event.event_id).sort()).toEqual(log.eventIds);
    expect(model.counts).toEqual(log.counts);
    // No lease was ever taken from a live owner: a worker whose renewal finds its
    // partition gone logs 'lease lost' (giving partitions back to balance does not).
    const lost = workers.flatMap((worker) => worker.lines.filter((line) => line.message === 'lease lost').map((line) => `${worker.settings.workerId}: ${JSON.stringify(line)}`));
    expect(lost).toEqual([]);
    // The dead owner and at least one survivor both committed events.
    const appliers = new Set(model.applied.map((event) => event.worker));
    expect(appliers.has(victimId)).toBe(true);
    expect(survivors.some((worker) => appliers.has(worker.workerId!))).toBe(true);
    // Stopped cleanly: no partition left owned.
    expect((await partitionsOf(store, name)).filter((row) => row.owner !== null)).toEqual([]);
  } finally {
    // Stopped on failure too: a writer left running would append to a closed store.
    await writer.stop().catch(() => {});
  }
}

/** The partitions `owner` holds, with when each lease runs out (epoch ms, the database's clock). */
async function leasesOf(store: EventStore, name: string, owner: string): Promise<{ partition: number; expiresAt: number }[]> {
  const rows = await store.withTransaction((tx) =>
    tx.query<{ partition: number; expires_at: string }>(
      `SELECT partition, (extract(epoch FROM lease_expires_at) * 1000)::bigint::text AS expires_at
         FROM "${tx.schema}".projection_partitions WHERE projection = $1 AND owner = $2`,
      [name, owner],
    ),
  );
  return rows.map((row) => ({ partition: row.partition, expiresAt: Number(row.expires_at) }));
}

