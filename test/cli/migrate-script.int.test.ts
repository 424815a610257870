import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { testDatabaseUrl, useTestSchema } from '../setup/database.js';

// `npm run migrate` is `tsx src/cli/migrate.ts`: run here as that script, in a real child
// process, from a folder with no config (a fresh project migrates before it has one).

const root = resolve(import.meta.dirname, '../..');
const script = join(root, 'src', 'cli', 'migrate.ts');
// tsx by absolute URL: the child starts in a folder with no node_modules.
const tsx = pathToFileURL(join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const folder = await mkdtemp(join(tmpdir(), 'annals-migrate-'));
afterAll(() => rm(folder, { recursive: true, force: true }));

const { schema } = useTestSchema('cli_migrate_script');
// Nothing listens on port 1: commands that must not connect are run against it.
const nowhere = 'postgres://postgres@127.0.0.1:1/test';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function migrate(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (!('ANNALS_SCHEMA' in env)) delete childEnv.ANNALS_SCHEMA;
  delete childEnv.ANNALS_DEBUG;
  const child = spawn(process.execPath, ['--import', tsx, script, ...args], { cwd: folder, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolvePromise, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** One line on stderr, `annals: ...`, and no stack trace. */
function expectOneLineError(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^annals: \S/);
  expect(stderr).not.toMatch(/^\s+at /m);
  return lines[0]!;
}

describe('npm run migrate', () => {
  it.each([['--help'], ['-h']])('prints help for %s: usage, --schema and the environment variables, exit 0, without connecting', async (flag) => {
    const { code, stdout, stderr } = await migrate([flag], { DATABASE_URL: nowhere });

    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toMatch(/^Usage: annals migrate \[options\]\n/);
    expect(stdout).toMatch(/^ {2}--schema NAME +the store's schema/m);
    expect(stdout).toMatch(/^Environment:\n {2}DATABASE_URL +.+\n {2}ANNALS_DATA_DIR +.+\n {2}ANNALS_SCHEMA +.+\n/m);
  });

  it('refuses an unknown option with one line and exit code 2, before connecting', async () => {
    const { code, stdout, stderr } = await migrate(['--schmea', 'app'], { DATABASE_URL: nowhere });

    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(expectOneLineError(stderr)).toContain("'--schmea'");
  });

  it('refuses an argument it does not take with one line and exit code 2', async () => {
    const { code, stderr } = await migrate(['up'], { DATABASE_URL: nowhere });

    expect(code).toBe(2);
    expect(expectOneLineError(stderr)).toContain("'up'");
  });

  it('migrates the schema ANNALS_SCHEMA names, then finds it up to date under --schema', { timeout: 120_000 }, async () => {
    const first = await migrate([], { DATABASE_URL: testDatabaseUrl, ANNALS_SCHEMA: schema });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`^applied 0001_event_store, .+ to schema "${schema}" on PostgreSQL at `));

    const again = await migrate(['--schema', schema], { DATABASE_URL: testDatabaseUrl });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`schema "${schema}" on PostgreSQL at `);
    expect(again.stdout).toContain('is up to date');
  });

  it('fails with one line, no stack, and exit code 1 when the database cannot be reached', async () => {
    const { code, stdout, stderr } = await migrate(['--schema', schema], { DATABASE_URL: nowhere });

    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(expectOneLineError(stderr)).toContain('127.0.0.1:1');
  });

  it('fails with one line and exit code 1 when the database does not exist', async () => {
    const missing = 'annals_no_such_database';
    const url = new URL(testDatabaseUrl);
    url.pathname = `/${missing}`;
    const { code, stderr } = await migrate(['--schema', schema], { DATABASE_URL: url.href });

    expect(code).toBe(1);
    expect(expectOneLineError(stderr)).toContain(missing);
  });
});
