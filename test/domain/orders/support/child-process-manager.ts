import type { ChildProcess } from 'node:child_process';
import { killAllScripts, startScript } from '../../../setup/child-process.js';
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

/** Starts domain/orders/run-process-manager.ts as a real process on `schema` (see startScript for how). */
export function startProcessManager(schema: string, settings: Record<string, string> = {}): RunningProcessManager {
  const lines: string[] = [];
  const script = startScript(
    'domain/orders/run-process-manager.ts',
    { DATABASE_URL: testDatabaseUrl, ANNALS_SCHEMA: schema, ...settings },
    (line) => lines.push(line),
  );
  return {
    child: script.child,
    lines,
    exited: script.exited,
    waitFor: (test, timeoutMs = 20_000) =>
      script.waitUntil(
        () => test(lines),
        timeoutMs,
        (why) => `${why === 'exited' ? 'the process manager exited' : 'timed out'}; stdout:\n${lines.join('\n')}\nstderr:\n${script.stderr()}`,
      ),
  };
}

/** Kills every process manager a test left running (for afterEach). */
export const killAll = killAllScripts;

/** The lines that report a handled event. */
export const processedLines = (lines: readonly string[]) => lines.filter((line) => line.startsWith('processed '));
