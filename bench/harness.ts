/**
 * The benchmark harness shared by every figure: settings, timing, peak memory, fresh
 * schemas and databases, machine details and markdown tables. (Running a contestant in
 * a process of its own is in isolated-process.ts.)
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import pg from 'pg';

/** What the benchmark's own connections call themselves in pg_stat_activity. */
export const applicationName = 'annals-bench';

/**
 * The Postgres every contestant runs against (the same one, side by side), tagged with
 * applicationName so that other sessions on a shared server can be told apart.
 */
export const databaseUrl = tagged(process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');

function tagged(connectionString: string): string {
  const url = new URL(connectionString);
  if (!url.searchParams.has('application_name')) url.searchParams.set('application_name', applicationName);
  return url.toString();
}

export function intFromEnv(name: string, fallback: number): number {
  const value = Number.parseInt(process.env[name] ?? '', 10);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

/**
 * Run lengths. Each contestant gets a fixed wall-clock window per figure so the whole
 * suite stays within a few minutes on a 2-core machine; override with BENCH_* variables.
 */
export const settings = {
  /** Appends before a contestant's first window: JIT, pool and plan caches warm up. */
  warmupMs: intFromEnv('BENCH_WARMUP_MS', 1_000),
  /** Appends before each later window, after the contestant sat idle while others ran. */
  rewarmMs: intFromEnv('BENCH_REWARM_MS', 300),
  /**
   * One measured window of an append figure. Many short windows interleaved beat a few
   * long ones on a shared machine: load comes and goes in bursts of seconds.
   */
  measureMs: intFromEnv('BENCH_MEASURE_MS', 1_000),
  /** Windows per contestant and append figure, interleaved; the figure is the median. */
  rounds: intFromEnv('BENCH_ROUNDS', 5),
  /** Streams appended to; each worker owns a disjoint share, so appends never conflict. */
  streams: intFromEnv('BENCH_STREAMS', 1_000),
  /** Events in the global log read by the read figure. */
  readEvents: intFromEnv('BENCH_READ_EVENTS', 200_000),
  /** Reads per contestant (each in a fresh process), interleaved; the figure is the median. */
  readRounds: intFromEnv('BENCH_READ_ROUNDS', 3),
  /** Page size of every reader of the global log. */
  readBatchSize: intFromEnv('BENCH_READ_BATCH', 1_000),
  /** Events read before the measured read, to warm the JIT and Postgres' caches. */
  readWarmupEvents: intFromEnv('BENCH_READ_WARMUP', 10_000),
  /**
   * A reader slower than this is stopped and its rate taken over what it read (Emmett
   * 0.42 scans its whole log for every page, so its rate does not improve with time).
   */
  readMaxMs: intFromEnv('BENCH_READ_MAX_MS', 8_000),
  /**
   * Accounts of the many-aggregates command figure. Its measured windows are the append
   * figures' (warmupMs, rewarmMs, measureMs, rounds).
   */
  commandAccounts: intFromEnv('BENCH_COMMAND_ACCOUNTS', 1_000),
  /** Stream lengths of the load-time figure. */
  loadLengths: intListFromEnv('BENCH_LOAD_LENGTHS', [10, 100, 1_000, 10_000, 100_000]),
  /** Measured loads per contestant and length, interleaved; the figure is the median. */
  loadRounds: intFromEnv('BENCH_LOAD_ROUNDS', 3),
  /**
   * A short load is repeated for this long in each measured step (its median is the
   * step's time): one load of a 10-event stream is a millisecond, below the noise.
   */
  loadStepMs: intFromEnv('BENCH_LOAD_STEP_MS', 300),
  /**
   * A contestant whose unmeasured first load of a length takes longer than this loads
   * that length only once more (measured), so a slow reader cannot stretch the run.
   */
  loadMaxMs: intFromEnv('BENCH_LOAD_MAX_MS', 5_000),
};

/** Callers of both command figures, each with one command in flight: a busy service's worth. */
export const commandConcurrency = 16;

function intListFromEnv(name: string, fallback: number[]): number[] {
  const values = (process.env[name] ?? '').split(',').map((part) => Number.parseInt(part, 10));
  return values.every((value) => Number.isFinite(value) && value > 0) && values.length > 0 ? values : fallback;
}

export const now = (): number => performance.now();

export interface Throughput {
  events: number;
  seconds: number;
  eventsPerSecond: number;
}

/**
 * Runs `concurrency` workers that each call `work` back to back (one call in flight per
 * worker, like one request handler per connection) for `warmupMs + measureMs`, and
 * counts the events of the calls that complete inside the measured window.
 */
export async function runWorkers(options: {
  concurrency: number;
  warmupMs: number;
  measureMs: number;
  work: (worker: number) => Promise<number>;
  /** When given, receives the milliseconds of each call that completes inside the measured window. */
  latencies?: number[];
}): Promise<Throughput> {
  const windowStart = now() + options.warmupMs;
  const windowEnd = windowStart + options.measureMs;
  let events = 0;
  const worker = async (index: number) => {
    while (now() < windowEnd) {
      const started = now();
      const appended = await options.work(index);
      const done = now();
      if (done >= windowStart && done <= windowEnd) {
        events += appended;
        options.latencies?.push(done - started);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, index) => worker(index)));
  const seconds = options.measureMs / 1000;
  return { events, seconds, eventsPerSecond: events / seconds };
}

/**
 * Peak resident set size of this process. Sampled on a timer (and on demand) from
 * process.memoryUsage(), and cross-checked with resourceUsage().maxRSS, the kernel's own
 * high-water mark, which also sees spikes between samples. Each measurement runs in a
 * fresh child process, so that high-water mark belongs to the measurement alone.
 */
export class PeakMemory {
  #peakRss = 0;
  #peakHeap = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  start(intervalMs = 5): this {
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
    return this;
  }

  sample(): void {
    const usage = process.memoryUsage();
    this.#peakRss = Math.max(this.#peakRss, usage.rss);
    this.#peakHeap = Math.max(this.#peakHeap, usage.heapUsed);
  }

  stop(): { peakRssBytes: number; peakHeapBytes: number } {
    clearInterval(this.#timer);
    this.sample();
    const maxRssBytes = process.resourceUsage().maxRSS * 1024;
    return { peakRssBytes: Math.max(this.#peakRss, maxRssBytes), peakHeapBytes: this.#peakHeap };
  }
}

/** Collects garbage when the process runs with --expose-gc (child processes do). */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** A name no earlier run used, so every run starts from empty tables. */
export function freshName(label: string): string {
  return `bench_${label.replaceAll('-', '_')}_${randomBytes(4).toString('hex')}`;
}

/** The connection string of another database on the same server. */
export function urlForDatabase(database: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Runs statements on a short-lived connection of its own (setup and cleanup only). */
export async function adminQuery(statements: readonly string[], url = databaseUrl): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const statement of statements) await client.query(statement);
  } finally {
    await client.end();
  }
}

/** The place a contestant keeps its tables: a schema in the main database, or a database. */
export type Target = { schema: string } | { database: string };

export async function createTarget(target: Target): Promise<void> {
  // Schemas are created by the contestant's own migration; a database must exist first.
  if ('database' in target) await adminQuery([`CREATE DATABASE ${quoteIdent(target.database)}`]);
}

/** A store's schema, its key store's (`<store>#keys`) and its projections' (`<store>:<name>`, `…#g<n>`). */
export async function dropStoreSchemas(schema: string): Promise<void> {
  const client = new pg.Client(databaseUrl);
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(`SELECT nspname AS name FROM pg_namespace WHERE nspname = ANY($1::text[]) OR starts_with(nspname, $2)`, [
      [schema, `${schema}#keys`],
      `${schema}:`,
    ]);
    for (const { name } of rows) await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(name)} CASCADE`);
  } finally {
    await client.end();
  }
}

export async function dropTarget(target: Target): Promise<void> {
  if ('schema' in target) await dropStoreSchemas(target.schema);
  // FORCE ends connections a crashed child may have left behind.
  else await adminQuery([`DROP DATABASE IF EXISTS ${quoteIdent(target.database)} WITH (FORCE)`]);
}

/** Creates a fresh target, hands it to `work`, and drops it afterwards whatever happens. */
export async function withTarget<T>(target: Target, work: (target: Target) => Promise<T>): Promise<T> {
  await createTarget(target);
  try {
    return await work(target);
  } finally {
    await dropTarget(target);
  }
}

export interface MachineDetails {
  cpu: string;
  cores: number;
  ramGiB: number;
  platform: string;
  node: string;
  postgres: string;
  loadAverage: number[];
}

export async function machineDetails(): Promise<MachineDetails> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ version: string }>('SELECT version()');
    return {
      cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
      cores: os.cpus().length,
      ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      platform: `${os.type()} ${os.release()} (${os.arch()})`,
      node: process.version,
      postgres: rows[0]?.version ?? 'unknown',
      loadAverage: os.loadavg(),
    };
  } finally {
    await client.end();
  }
}

/** What was going on beside the benchmark while it ran. */
export interface Surroundings {
  /** Highest 1-minute load average sampled during the run. */
  maxLoadAverage: number;
  /** Most non-idle Postgres sessions of other programs seen at one time. */
  maxOtherSessions: number;
  /** Samples in which another program had a non-idle Postgres session. */
  busySamples: number;
  samples: number;
}

/**
 * Samples, once a second, the load average and how many non-idle Postgres sessions other
 * programs have, so the report can say honestly whether the machine was shared.
 */
export function watchSurroundings(intervalMs = 1_000): { stop(): Promise<Surroundings> } {
  const seen: Surroundings = { maxLoadAverage: os.loadavg()[0] ?? 0, maxOtherSessions: 0, busySamples: 0, samples: 0 };
  const client = new pg.Client({ connectionString: databaseUrl });
  const connected = client.connect();
  let inFlight: Promise<void> = Promise.resolve();
  const sample = async () => {
    await connected;
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE backend_type = 'client backend' AND state <> 'idle' AND application_name <> $1`,
      [applicationName],
    );
    const others = rows[0]?.n ?? 0;
    seen.samples += 1;
    if (others > 0) seen.busySamples += 1;
    seen.maxOtherSessions = Math.max(seen.maxOtherSessions, others);
    seen.maxLoadAverage = Math.max(seen.maxLoadAverage, os.loadavg()[0] ?? 0);
  };
  const timer = setInterval(() => {
    inFlight = inFlight.then(sample).catch(() => {});
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
      await connected.catch(() => {});
      await client.end().catch(() => {});
      return seen;
    },
  };
}

/** A GitHub-flavoured markdown table; `align` marks numeric columns for right alignment. */
export function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[], align: readonly ('left' | 'right')[] = []): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const cell = (text: string, column: number) =>
    align[column] === 'right' ? text.padStart(widths[column]!) : text.padEnd(widths[column]!);
  const line = (cells: readonly string[]) => `| ${cells.map((text, column) => cell(text, column)).join(' | ')} |`;
  const rule = `|${widths.map((width, column) => (align[column] === 'right' ? `${'-'.repeat(width + 1)}:` : '-'.repeat(width + 2))).join('|')}|`;
  return [line(headers), rule, ...rows.map((row) => line(headers.map((_, column) => row[column] ?? '')))].join('\n');
}

/** 12345.6 -> "12,346". */
export function formatRate(value: number | undefined): string {
  return value === undefined ? 'n/a' : Math.round(value).toLocaleString('en-US');
}

export function formatRatio(numerator: number | undefined, denominator: number | undefined): string {
  if (numerator === undefined || denominator === undefined || denominator === 0) return 'n/a';
  return `${(numerator / denominator).toFixed(2)}x`;
}

/** 1.234 -> "1.23x". */
export function formatTimes(value: number): string {
  return `${value.toFixed(2)}x`;
}

/** Milliseconds with as many decimals as their size deserves: 0.63, 75.2, 1,234. */
export function formatMs(value: number | undefined): string {
  if (value === undefined) return 'n/a';
  if (value < 10) return value.toFixed(2);
  if (value < 100) return value.toFixed(1);
  return Math.round(value).toLocaleString('en-US');
}

export function formatMiB(bytes: number | undefined): string {
  return bytes === undefined ? 'n/a' : `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

/**
 * The commit measured, short, flagged when the code under test (`paths`) differs from it:
 * a figure recorded from uncommitted code says so.
 */
export function commitMeasured(paths: readonly string[] = ['src', 'migrations']): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const commit = git('rev-parse', '--short', 'HEAD');
    const dirty = git('status', '--porcelain', '--', ...paths) !== '';
    return dirty ? `${commit} (with uncommitted changes in ${paths.map((path) => `${path}/`).join(', ')})` : commit;
  } catch {
    return 'unknown';
  }
}
