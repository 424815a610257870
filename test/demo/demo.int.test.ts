import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { closedPort, testDatabase, testUser, urlWith } from '../database/support/unreachable.js';
import { testDatabaseUrl, useTestSchema } from '../setup/database.js';

const run = promisify(execFile);
const tsx = join(process.cwd(), 'node_modules', '.bin', 'tsx');
// The script `npm start` runs, read from package.json so that the two cannot drift apart.
const { scripts } = JSON.parse(await readFile('package.json', 'utf8')) as { scripts: { start: string } };
const demo = /^tsx (\S+)$/.exec(scripts.start)![1]!;
const { schema } = useTestSchema('demo');

// `npm start` as a user runs it: a real child process, on both kinds of database.
describe('npm start (the demo)', () => {
  // Two runs of a child process that boots PGlite (WebAssembly) and migrates: minutes, not
  // seconds, on a loaded 2-core machine.
  it('runs on an embedded PGlite when DATABASE_URL is not set, and again on the same data', { timeout: 240_000 }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'annals-demo-'));
    try {
      const env = { ...process.env, DATABASE_URL: '', ANNALS_DATA_DIR: dataDir };
      const first = await run(tsx, [demo], { env });
      expect(first.stdout).toContain(`embedded PGlite in ${dataDir}`);
      expect(first.stdout).toMatch(/migrated: 0001_event_store, 0002_snapshots, 0003_checkpoints/);
      expect(first.stdout).toContain('nothing written twice');
      expect(first.stdout).toMatch(/like count by replay: 1 \(grace\)/);
      expect(first.stdout).toContain('like count from the like-counts projection: 1');
      const second = await run(tsx, [demo], { env });
      expect(second.stdout).toContain('schema up to date');
      expect(second.stdout).toMatch(/global log since the demo started: 3 events of post-/);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('runs on the Postgres in DATABASE_URL', { timeout: 120_000 }, async () => {
    const env = { ...process.env, DATABASE_URL: testDatabaseUrl, ANNALS_SCHEMA: schema };
    const { stdout } = await run(tsx, [demo], { env });
    expect(stdout).toContain('Annals demo on PostgreSQL at ');
    expect(stdout).toContain('stale writer refused');
    expect(stdout).toContain('like count from the like-counts projection: 1');
    expect(stdout).toMatch(/global log since the demo started: 3 events of post-/);
  });

  it('says in one line, without a stack trace, that DATABASE_URL is no Postgres URL or names no database it can reach', { timeout: 120_000 }, async () => {
    const port = await closedPort();
    const failures = await Promise.all(
      ['mysql://ada:hunter2@db.example/app', urlWith({ host: '127.0.0.1', port })].map((url) =>
        run(tsx, [demo], { env: { ...process.env, DATABASE_URL: url } }).then(
          () => expect.unreachable(`the demo ran on ${url}`),
          (error: { code: number; stdout: string; stderr: string }) => error,
        ),
      ),
    );
    const [mysql, refused] = failures;
    expect(mysql).toMatchObject({ code: 1, stderr: expect.stringMatching(/^demo failed: DATABASE_URL: must be a PostgreSQL URL, starting postgres:\/\/ or postgresql:\/\/ \(its scheme is 'mysql'\)/) });
    expect(refused).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(new RegExp(`^demo failed: cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port} \\(database "${testDatabase}", user "${testUser}"\\): connection refused`)),
    });
    for (const failure of failures) {
      expect(failure!.stderr.trim().split('\n')).toHaveLength(1);
      expect(failure!.stdout + failure!.stderr).not.toMatch(/hunter2/);
    }
  });
});
