import { describe, expect, it } from 'vitest';
import { archiveStatus, type EventStore } from '../../src/index.js';
import { createTestStore, eventually } from '../setup/database.js';
import { runAnnals, startAnnals, writeConfig } from './support/cli.js';

// `annals archive run` and `annals archive restore` (docs/archive.md): the oldest events
// moved out of the hot table by position or by age, and back, each run reporting what it
// moved and where the archive point is; bad input refused with exit code 2 before the
// store is opened; a run stopped by SIGINT between two batches.

const store = await createTestStore('cli_archive');
const config = await writeConfig(store.schema, [`export default { schema: ${JSON.stringify(store.schema)}, projections: [] };`]);

await store.appendToStream('cart-1', Array.from({ length: 10 }, (_, i) => ({ type: 'Added', data: { i } })), { expectedVersion: 'no_stream' });
const positions = (await store.readStream('cart-1')).map((event) => event.globalPosition);
const at = (index: number) => positions[index]!.toString();

// Enough events that a run moving one per batch is still going when the signal comes.
const big = await createTestStore('cli_archive_stop');
const bigConfig = await writeConfig(big.schema, [`export default { schema: ${JSON.stringify(big.schema)}, projections: [] };`]);
for (let round = 0; round < 6; round++) await big.appendToStream(`bulk-${round}`, Array.from({ length: 500 }, (_, i) => ({ type: 'Added', data: { i } })));

const versions = async (s: EventStore) => (await s.readStream('cart-1')).map((event) => event.version);

describe('annals archive run', () => {
  // Catches: a dry run that moves, a report that is not the library's, a flag not passed on.
  it('counts with --dry-run, then moves the events through --through, saying where the archive point is', async () => {
    const dry = await runAnnals(['archive', 'run', '--through', at(3), '--dry-run', '--json', '--config', config]);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toEqual({ dryRun: true, moved: 4, archivedThrough: '0' });
    expect(dry.stderr).toContain('annals: database: ');
    expect((await archiveStatus(store)).archivedEvents).toBe(0);

    const run = await runAnnals(['archive', 'run', '--through', at(3), '--batch-size', '3', '--config', config]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^database: .*\n/);
    expect(run.stdout).toContain(`archived 4 event(s); every event at or below position ${at(3)} is in the archive\n`);
    expect(await archiveStatus(store)).toMatchObject({ archivedThrough: positions[3], archivedEvents: 4 });
    expect(await versions(store)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  // Catches: a duration parsed in the wrong unit (1d read as 1 ms would move everything).
  it('moves by age with --older-than, with --through as a second bound, never the newest event', async () => {
    const young = await runAnnals(['archive', 'run', '--older-than', '1d', '--json', '--config', config]);
    expect([young.code, JSON.parse(young.stdout)]).toEqual([0, { dryRun: false, moved: 0, archivedThrough: at(3) }]);

    const both = await runAnnals(['archive', 'run', '--older-than', '0s', '--through', at(6), '--json', '--config', config]);
    expect([both.code, JSON.parse(both.stdout)]).toEqual([0, { dryRun: false, moved: 3, archivedThrough: at(6) }]);

    // Everything recorded before now, except the head, which always stays in the hot table.
    const aged = await runAnnals(['archive', 'run', '--older-than', '0', '--config', config]);
    expect(aged.code).toBe(0);
    expect(aged.stdout).toContain(`archived 2 event(s); every event at or below position ${at(8)} is in the archive`);
    expect(await archiveStatus(store)).toMatchObject({ archivedThrough: positions[8], archivedEvents: 9 });
  });
});

describe('annals archive restore', () => {
  it('moves the events above --after back, then the rest, lowering the archive point', async () => {
    const some = await runAnnals(['archive', 'restore', '--after', at(3), '--batch-size', '2', '--json', '--config', config]);
    expect([some.code, JSON.parse(some.stdout)]).toEqual([0, { restored: 5, archivedThrough: at(3) }]);

    const rest = await runAnnals(['archive', 'restore', '--config', config]);
    expect(rest.code).toBe(0);
    expect(rest.stdout).toContain('restored 4 event(s) to the log; nothing is archived\n');
    expect(await archiveStatus(store)).toMatchObject({ archivedThrough: 0n, archivedEvents: 0 });
    expect(await versions(store)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});

describe('bad input', () => {
  // Catches: a missing bound passed to the library (its message names options.through, not a flag).
  // More malformed values: cli.unit.test.ts (durationOption, parseCommandLine).
  it('is one line naming the flag, exit code 2, and nothing moved', async () => {
    const cases: [string[], string][] = [
      [['archive', 'run'], 'annals: annals archive run needs --through POSITION or --older-than DURATION'],
      [['archive', 'run', '--through', 'yesterday'], "annals: --through must be a global position (a whole number >= 0), got 'yesterday'"],
      [['archive', 'run', '--older-than', '30x', '--through', '5'], "annals: --older-than must be a duration: a whole number with d, h, m, s or ms (30d, 12h, 90m, 45s), or of milliseconds, got '30x'"],
      [['archive', 'run', '--through', '5', '--batch-size', '0'], "annals: --batch-size must be from 1 to 100000, got '0'"],
      [['archive', 'restore', '--after', 'x'], "annals: --after must be a global position (a whole number >= 0), got 'x'"],
    ];
    const results = await Promise.all(cases.map(([args]) => runAnnals([...args, '--config', config])));
    for (const [index, [args, message]] of cases.entries()) {
      const { code, stdout, stderr } = results[index]!;
      expect({ args, code, stdout, stderr: stderr.trim().split('\n') }).toEqual({ args, code: 2, stdout: '', stderr: [expect.stringContaining(message)] });
    }
    expect((await archiveStatus(store)).archivedEvents).toBe(0);
  });
});

describe('a run stopped by SIGINT', () => {
  // Catches: a signal that kills the run mid-batch (nothing reported) or is ignored until the end.
  it('ends between two batches, reports what was moved, and exits 130', async () => {
    const running = startAnnals(['archive', 'run', '--through', '9223372036854775807', '--batch-size', '1', '--config', bigConfig]);
    await eventually(async () => expect((await archiveStatus(big)).archivedEvents).toBeGreaterThan(0), 30_000);
    running.kill('SIGINT');
    const { code, stdout, stderr } = await running.done;
    expect(stderr).toContain('annals: SIGINT: stopping after the batch in flight; what was moved stays archived');
    expect(code).toBe(130);
    const [, moved, through] = /stopped by SIGINT: archived ([\d,]+) event\(s\); every event at or below position (\d+) is in the archive; run it again to archive the rest/.exec(stdout) ?? [];
    const status = await archiveStatus(big);
    expect(Number(moved!.replaceAll(',', ''))).toBe(status.archivedEvents);
    expect(status.archivedEvents).toBeLessThan(2_999);
    expect(BigInt(through!)).toBe(status.archivedThrough);
  });
});
