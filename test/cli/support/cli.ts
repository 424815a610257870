import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll } from 'vitest';
import { testDatabaseUrl } from '../../setup/database.js';

const root = resolve(import.meta.dirname, '../../..');
// The command from its sources, as `npm run annals` runs it; bin/annals.mjs runs the build
// in dist/, which test/package/installed-package.int.test.ts checks from a packed tarball.
// tsx by absolute URL: children may start in a folder with no node_modules.
export const annalsFromSources = ['--import', pathToFileURL(join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href, join(root, 'src', 'cli', 'main.ts')];
const tally = join(root, 'test', 'support', 'tally.ts');
const tallyConsumer = join(root, 'test', 'cli', 'support', 'tally-consumer.ts');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Writes an annals.config.ts for `schema` under test/.tmp listing tally projections
 * (one per entry of `projections`); `ANNALS_TEST_FAIL_KEY` in the child's environment
 * makes their handlers fail on that key. Removed after the file. Call at the top level.
 */
export async function writeTestConfig(
  schema: string,
  projections: { name: string; partitions?: number; version?: number }[] = [{ name: 'tally' }],
): Promise<string> {
  return writeConfig(schema, [
    `import { tallyProjection } from ${JSON.stringify(tally)};`,
    `export default {`,
    `  schema: ${JSON.stringify(schema)},`,
    `  projections: ${JSON.stringify(projections)}.map((p) => tallyProjection({ ...p, failOn: process.env.ANNALS_TEST_FAIL_KEY })),`,
    `};`,
  ]);
}

/**
 * Writes an annals.config.ts for `schema` that lists no projections and a tally consumer
 * per entry of `consumers` (test/cli/support/tally-consumer.ts); `ANNALS_TEST_FAIL_KEY`
 * in the child's environment makes their handlers fail on that key. Call at the top level.
 */
export async function writeConsumerTestConfig(
  schema: string,
  consumers: { name: string; category: string; mode?: 'transaction' | 'at-least-once' }[],
): Promise<string> {
  return writeConfig(schema, [
    `import { tallyConsumer } from ${JSON.stringify(tallyConsumer)};`,
    `export default {`,
    `  schema: ${JSON.stringify(schema)},`,
    `  projections: [],`,
    `  consumers: ${JSON.stringify(consumers)}.map((c) => tallyConsumer({ ...c, failOn: process.env.ANNALS_TEST_FAIL_KEY })),`,
    `};`,
  ]);
}

/** Writes `lines` as an annals.config.ts in a folder of its own under test/.tmp, removed after the file. */
export async function writeConfig(schema: string, lines: string[]): Promise<string> {
  const dir = join(root, 'test', '.tmp', `cli-${schema}-${randomBytes(3).toString('hex')}`);
  await mkdir(dir, { recursive: true });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'annals.config.ts');
  await writeFile(path, [...lines, ''].join('\n'));
  return path;
}

/** A running `annals` child process; `done` resolves when it exits. */
export interface RunningCli {
  readonly pid: number;
  output(): { stdout: string; stderr: string };
  kill(signal: NodeJS.Signals): void;
  readonly done: Promise<CliResult>;
}

/** Starts `annals ...args` (from src/) on the test database, in the repository's folder. */
export function startAnnals(args: readonly string[], env: Record<string, string> = {}): RunningCli {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: testDatabaseUrl, ...env };
  // The config names the schema; an ANNALS_SCHEMA from the caller's shell must not matter.
  delete childEnv.ANNALS_SCHEMA;
  const child = spawn(process.execPath, [...annalsFromSources, ...args], {
    cwd: root,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 55_000);
  const done = new Promise<CliResult>((resolvePromise, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
  return {
    pid: child.pid!,
    output: () => ({ stdout, stderr }),
    kill: (signal) => child.kill(signal),
    done,
  };
}

/** Runs `annals ...args` to its end. */
export function runAnnals(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return startAnnals(args, env).done;
}
