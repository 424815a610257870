import { catchUpProjections, connectionFromEnvironment, type EventStore } from 'annals';
import { describe, expect, it } from 'vitest';
import { createTestStore, eventually, testDatabaseUrl } from '../setup/database.js';
import { counted, tallyProjection } from '../support/tally.js';
import { appendVisible } from './support/append-visible.js';
import { runAnnals, writeTestConfig, type CliResult } from './support/cli.js';

const store: EventStore = await createTestStore('cli_status');
const config = await writeTestConfig(store.schema, [{ name: 'tally' }, { name: 'tally-wide', partitions: 3 }]);
// Said first, so that a forgotten DATABASE_URL (an empty embedded database) does not look like an idle store.
const database = `${connectionFromEnvironment({ DATABASE_URL: testDatabaseUrl }).description}, schema "${store.schema}"`;

describe('annals status', () => {
  it('prints where each projection stands as JSON, bigints as strings, after a catch-up', async () => {
    const lastGlobalPosition = await appendVisible(store, 'tally-a', [counted('a'), counted('a'), counted('b')]);
    await catchUpProjections(store, [tallyProjection()]);

    const { code, stdout, stderr } = await runAnnals(['status', '--json', '--config', config]);
    expect(stderr).toBe(`annals: database: ${database}\n`);
    expect(code).toBe(0);
    const status = JSON.parse(stdout);
    expect(status.head).toMatch(/^\d+$/);
    expect(status.partitions).toHaveLength(1);
    const [partition] = status.partitions;
    expect(partition).toMatchObject({
      projection: 'tally',
      generation: 1,
      version: 1,
      status: 'live',
      partition: 0,
      lag: 0,
      oldestUnprocessedAgeMs: null,
      eventsProcessed: 3,
      retries: 0,
      deadLettered: 0,
      owner: null,
      stoppedError: null,
      rebuildProgress: null,
    });
    expect(partition.position).toMatch(/^\d+$/);
    expect(BigInt(partition.position)).toBeGreaterThanOrEqual(lastGlobalPosition);
    expect(status.projections).toEqual([
      { name: 'tally', pendingDeadLetters: 0, skew: null, idleWorkers: [] },
      { name: 'tally-wide', pendingDeadLetters: 0, skew: null, idleWorkers: [] },
    ]);
    expect(status.logHeldBackBy).toBeNull();
  });

  it('prints a table for a terminal, with the projections no worker has set up yet', async () => {
    const { code, stdout } = await runAnnals(['status', '--config', config]);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe(`database: ${database}`);
    expect(lines[1]).toMatch(/^head: \d+$/);
    expect(lines[3]).toMatch(/^projection\s+gen\s+status\s+part\s+checkpoint\s+lag\s+oldest\s+events\/s\s+retries\s+dead\s+owner\s+heartbeat\s+rebuild$/);
    expect(lines[4]).toMatch(/^tally\s+1\s+live\s+0\s+\d+\s+0\s+-\s+/);
    expect(lines[5]).toMatch(/^tally-wide\s+-\s+not set up/);
  });

  it('names the session holding the log back, with its age and query, under the head and in JSON', { timeout: 120_000 }, async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let opened!: (pid: number) => void;
    const hasAppended = new Promise<number>((resolve) => (opened = resolve));
    const slow = store.withTransaction(async (tx) => {
      await tx.query(`SET LOCAL application_name = 'slow-importer'`);
      const [row] = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await tx.appendToStream('tally-slow', [counted('slow')]);
      opened(row!.pid);
      await released;
    });
    try {
      const pid = await Promise.race([hasAppended, slow.then(() => Promise.reject(new Error('ended before appending')))]);
      // Status names it only once it has been open for a second.
      await eventually(async () => expect((await store.logHoldback())?.ageMs).toBeGreaterThanOrEqual(1_000), 30_000);

      const [text, json] = await Promise.all([runAnnals(['status', '--config', config]), runAnnals(['status', '--json', '--config', config])]);
      expect(text.code).toBe(0);
      const lines = text.stdout.trim().split('\n').slice(1);
      expect(lines[0]).toMatch(/^head: \d+$/);
      expect(lines[1]).toMatch(
        new RegExp(`^log held back since \\d\\d:\\d\\d:\\d\\d \\([\\dhms.]+\\) by pid ${pid} \\(application 'slow-importer', idle in transaction\\): \\S.{0,99}$`),
      );
      expect(lines[3]).toMatch(/^projection\s+gen\s+status/);

      expect(json.code).toBe(0);
      const { logHeldBackBy } = JSON.parse(json.stdout);
      expect(logHeldBackBy).toMatchObject({ pid, applicationName: 'slow-importer', state: 'idle in transaction' });
      expect(logHeldBackBy.ageMs).toBeGreaterThanOrEqual(1_000);
      expect(logHeldBackBy.query).toEqual(expect.any(String));
      expect(new Date(logHeldBackBy.transactionStartedAt).toISOString()).toBe(logHeldBackBy.transactionStartedAt);
    } finally {
      release();
      await slow;
    }
    const after = await runAnnals(['status', '--config', config]);
    expect(after.stdout).not.toContain('log held back');
  });
});

describe('annals, given bad input', () => {
  it('exits 2 with one line naming an unknown projection', async () => {
    const { code, stderr, stdout } = await runAnnals(['projections', 'run', 'tally', 'nope', '--config', config]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe("annals: no projection named 'nope' (known: tally, tally-wide)\n");
  });

  it('exits 2 naming a malformed --from, an unknown command or option, a missing argument', { timeout: 240_000 }, async () => {
    const cases: [string[], RegExp][] = [
      [['projections', 'rebuild', 'tally', '--from', 'yesterday', '--config', config], /^annals: --from must be a global position .*got 'yesterday'\n$/],
      [['projections', 'rebuild', 'tally', '--from=-5', '--config', config], /^annals: --from must be a global position .*got '-5'\n$/],
      [['projections', 'rebuild', '--config', config], /^annals: annals projections rebuild needs NAME/],
      [['projections', 'rebuild', 'nope', '--config', config], /^annals: no projection named 'nope'/],
      [['projections', 'reboot', '--config', config], /^annals: unknown command 'projections reboot' \(expected run, rebuild, dead-letters, resume\)/],
      [['stats'], /^annals: unknown command 'stats'/],
      [['status', '--jsn', '--config', config], /^annals: Unknown option '--jsn'\n$/],
      [['projections', 'run', '--batch-size', 'lots', '--config', config], /^annals: --batch-size must be a whole number, got 'lots'\n$/],
      [['projections', 'run', '--batch-size', '0', '--config', config], /^annals: --batch-size: /],
      [['projections', 'run', '--on-failure', 'ignore', '--config', config], /^annals: --on-failure must be one of dead-letter, stop, got 'ignore'\n$/],
      [['status', '--config', 'test/.tmp/missing.config.ts'], /^annals: config file .*missing\.config\.ts not found/],
    ];
    // A few at a time: each is a Node process loading TypeScript, and CI machines have 2 cores.
    const results: CliResult[] = [];
    for (let index = 0; index < cases.length; index += 4) {
      results.push(...(await Promise.all(cases.slice(index, index + 4).map(([args]) => runAnnals(args)))));
    }
    for (const [index, result] of results.entries()) {
      const [args, message] = cases[index]!;
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('prints help with exit 0', async () => {
    const { code, stdout } = await runAnnals(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('projections dead-letters retry ID');
    const command = await runAnnals(['help', 'projections', 'run']);
    expect(command.stdout).toContain('--no-auto-rebuild');
  });
});
