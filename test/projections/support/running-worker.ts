/**
 * Worker processes as the crash tests see them: `startWorker` (spawn worker-script.ts),
 * `killAllWorkers`, `disconnected`, `terminate`. What the workers print is described in
 * worker-lines.ts; what they write, read back, in read-model.ts.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { EventStore } from 'annals';
import { killAllScripts, startScript } from '../../setup/child-process.js';
import { eventually } from '../../setup/eventually.js';
import type { WorkerLine } from './worker-lines.js';
import { workerEnvironment, type WorkerSettings } from './worker-settings.js';

const script = fileURLToPath(new URL('./worker-script.ts', import.meta.url));

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

/** Starts a worker process on `schema` (see startScript for how). */
export function startWorker(databaseUrl: string, schema: string, settings: WorkerSettings = {}): RunningWorker {
  const env = workerEnvironment(databaseUrl, schema, settings);
  // pg names every connection of the process after PGAPPNAME (its pool and its LISTEN client).
  const connectionName = `annals-test-worker-${randomUUID().slice(0, 8)}`;
  env.PGAPPNAME = connectionName;
  const lines: WorkerLine[] = [];
  const raw: string[] = [];
  let workerId: string | undefined;
  const started = startScript(script, env, (line) => {
    raw.push(line);
    try {
      const parsed = JSON.parse(line) as WorkerLine;
      if (parsed.kind === 'ready') workerId = parsed.worker;
      lines.push(parsed);
    } catch {
      // Not one of ours (a warning printed by node): kept in `raw` for failure messages.
    }
  });
  const output = () => `stdout (last 40 lines):\n${raw.slice(-40).join('\n')}\nstderr:\n${started.stderr()}`;

  return {
    child: started.child,
    settings,
    lines,
    get workerId() {
      return workerId;
    },
    connectionName,
    exited: started.exited,
    // A guard against a hang, not a measure of speed: on a loaded 2-core machine a worker
    // can take tens of seconds to start (node, tsx's transform, its connections, set-up).
    waitFor: (test, timeoutMs = 60_000) =>
      started.waitUntil(() => test(lines), timeoutMs, (why) => `worker ${settings.workerId ?? ''}: ${why}; ${output()}`),
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
