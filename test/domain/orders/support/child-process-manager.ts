import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { testDatabaseUrl } from '../../../setup/database.js';

export interface RunningProcessManager {
  readonly child: ChildProcess;
  /** Lines printed on stdout so far. */
  readonly lines: string[];
  /** How it ended: the exit code, or the signal that killed it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once `test` holds for the lines printed; throws if it exits or the time runs out first. */
  waitFor(test: (lines: readonly string[]) => boolean, timeoutMs?: number): Promise<void>;
}

const running = new Set<ChildProcess>();

/**
 * Starts domain/orders/run-process-manager.ts as a real process on `schema`.
 *
 * It runs as `node --import tsx` rather than `node_modules/.bin/tsx`: the tsx command
 * starts the script in a second node process and only relays signals it can catch, so
 * a SIGKILL sent to it would leave the real process manager running.
 */
export function startProcessManager(schema: string, settings: Record<string, string> = {}): RunningProcessManager {
  const child = spawn(process.execPath, ['--import', 'tsx', 'domain/orders/run-process-manager.ts'], {
    env: { ...process.env, DATABASE_URL: testDatabaseUrl, ANNALS_SCHEMA: schema, ...settings },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const lines: string[] = [];
  let stderr = '';
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let ended = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      ended = true;
      running.delete(child);
      resolve({ code, signal });
    }),
  );

  async function waitFor(test: (lines: readonly string[]) => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!test(lines)) {
      if (ended || Date.now() > deadline) {
        throw new Error(`${ended ? 'the process manager exited' : 'timed out'}; stdout:\n${lines.join('\n')}\nstderr:\n${stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  return { child, lines, exited, waitFor };
}

/** Kills every process manager a test left running (for afterEach). */
export async function killAll(): Promise<void> {
  const exits = [...running].map((child) => new Promise((resolve) => child.once('exit', resolve)));
  for (const child of running) child.kill('SIGKILL');
  await Promise.all(exits);
}

/** The lines that report a handled event. */
export const processedLines = (lines: readonly string[]) => lines.filter((line) => line.startsWith('processed '));
