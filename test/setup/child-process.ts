// No vitest import here: the crash tests' child scripts import the modules that use it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ScriptProcess {
  readonly child: ChildProcess;
  /** How it ended: the exit code, or the signal that killed it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What it printed on stderr so far. */
  stderr(): string;
  /**
   * Resolves once `test` holds, checked every 10 ms; throws `failure('exited' | 'timed
   * out')` if the process ends or the time runs out first.
   */
  waitUntil(test: () => boolean, timeoutMs: number, failure: (why: 'exited' | 'timed out') => string): Promise<void>;
}

const running = new Set<ChildProcess>();

/**
 * Starts a TypeScript script as a real process, with `env` added to this one's, and hands
 * each line it prints on stdout to `onLine`.
 *
 * It runs as `node --import tsx` rather than `node_modules/.bin/tsx`: the tsx command
 * starts the script in a second node process and only relays signals it can catch, so
 * a SIGKILL sent to it would leave the real script running.
 */
export function startScript(script: string, env: Record<string, string>, onLine: (line: string) => void): ScriptProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stderr = '';
  createInterface({ input: child.stdout! }).on('line', onLine);
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let ended = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      ended = true;
      running.delete(child);
      resolve({ code, signal });
    }),
  );

  async function waitUntil(test: () => boolean, timeoutMs: number, failure: (why: 'exited' | 'timed out') => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!test()) {
      if (ended || Date.now() > deadline) throw new Error(failure(ended ? 'exited' : 'timed out'));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  return { child, exited, stderr: () => stderr, waitUntil };
}

/** Kills (SIGKILL) every script a test left running, and waits for them to exit (for afterEach). */
export async function killAllScripts(): Promise<void> {
  const exits = [...running].map((child) => new Promise((resolve) => child.once('exit', resolve)));
  for (const child of running) child.kill('SIGKILL');
  await Promise.all(exits);
}
