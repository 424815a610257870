import { catchUpProjections, readSchemaOf, type EventStore } from 'annals';
import { describe, expect, it } from 'vitest';
import { createTestStore } from '../setup/database.js';
import { counted, tallyProjection } from '../support/tally.js';
import { appendVisible } from './support/append-visible.js';
import { runAnnals, writeTestConfig } from './support/cli.js';

const store: EventStore = await createTestStore('cli_dead_letters');
const config = await writeTestConfig(store.schema);
const failing = tallyProjection({ failOn: 'bad' });
const quickly = { retries: { attempts: 1, minDelayMs: 1, maxDelayMs: 1 } };

async function tallies(): Promise<Record<string, number>> {
  const rows = await store.withTransaction((tx) =>
    tx.query<{ key: string; n: number }>(`SELECT key, n FROM "${readSchemaOf(store.schema, failing)}".tallies ORDER BY key`),
  );
  return Object.fromEntries(rows.map((row) => [row.key, row.n]));
}

const annals = async (...args: string[]) => {
  const result = await runAnnals([...args, '--config', config]);
  return { ...result, json: () => JSON.parse(result.stdout) as Record<string, unknown>[] };
};

describe('annals projections dead-letters', () => {
  it('lists, retries and skips dead letters: a round trip', { timeout: 180_000 }, async () => {
    // Given two events the handler refuses, dead-lettered by a worker with the faulty code
    await appendVisible(store, 'tally-1', [counted('good'), counted('bad'), counted('good')]);
    await catchUpProjections(store, [failing], quickly);
    await appendVisible(store, 'tally-2', [counted('bad')]);
    await catchUpProjections(store, [failing], quickly);
    expect(await tallies()).toEqual({ good: 2 });

    // When they are listed
    const listed = await annals('projections', 'dead-letters', '--json');
    expect(listed.code).toBe(0);
    const pending = listed.json();
    expect(pending).toHaveLength(2);
    expect(pending[0]).toMatchObject({ projection: 'tally', generation: 1, partition: 0, streamId: 'tally-1', streamVersion: 2, eventType: 'Counted', attempts: 1, status: 'pending', resolvedAt: null });
    expect(pending[0]!.globalPosition).toMatch(/^\d+$/);
    expect(pending[0]!.error).toContain('refusing key bad');
    const [first, second] = pending.map((letter) => String(letter.id));

    const table = await annals('projections', 'dead-letters', 'list', '--projection', 'tally');
    expect(table.stdout.split('\n')[0]).toMatch(/^\s*id\s+projection\s+gen\s+part\s+position\s+stream\s+version\s+type\s+attempts\s+status\s+failed at\s+error$/);
    expect(table.stdout).toContain('Error: refusing key bad');

    // Then the first is retried with the fixed code (the config's handler fails on nothing), the second skipped
    const retried = await annals('projections', 'dead-letters', 'retry', first!);
    expect(retried.stderr).toBe('');
    expect(retried.code).toBe(0);
    expect(retried.stdout).toMatch(new RegExp(`^retried dead letter ${first}: Counted at position \\d+ \\(stream 'tally-1' v2\\)`));
    const skipped = await annals('projections', 'dead-letters', 'skip', second!);
    expect(skipped.code).toBe(0);
    expect(skipped.stdout).toContain(`skipped dead letter ${second}`);
    expect(await tallies()).toEqual({ good: 2, bad: 1 });

    const all = (await annals('projections', 'dead-letters', 'list', '--status', 'all', '--json')).json();
    expect(all.map((letter) => [letter.id, letter.status])).toEqual([
      [first, 'retried'],
      [second, 'skipped'],
    ]);
    expect((await annals('projections', 'dead-letters')).stdout.trim()).toBe('no pending dead letters');

    // A resolved, unknown or malformed id is bad input: exit 2, one line
    const again = await annals('projections', 'dead-letters', 'skip', first!);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe(`annals: dead letter ${first}: it is already retried\n`);
    const unknown = await annals('projections', 'dead-letters', 'retry', '999999');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('annals: dead letter 999999: no such dead letter\n');
    const malformed = await annals('projections', 'dead-letters', 'retry', 'first');
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/^annals: ID must be a dead letter id .*got 'first'\n$/);
  });

  it('exits 1 when the retried handler fails again, and leaves the dead letter pending', { timeout: 120_000 }, async () => {
    await appendVisible(store, 'tally-3', [counted('worse')]);
    await catchUpProjections(store, [tallyProjection({ failOn: 'worse' })], quickly);
    const letter = (await annals('projections', 'dead-letters', '--json')).json().find((l) => l.streamId === 'tally-3');
    expect(letter).toBeDefined();
    const result = await runAnnals(['projections', 'dead-letters', 'retry', String(letter!.id), '--config', config], { ANNALS_TEST_FAIL_KEY: 'worse' });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`annals: dead letter ${letter!.id}: the handler failed again: refusing key worse\n`);
    expect((await annals('projections', 'dead-letters', '--json')).json().find((l) => l.id === letter!.id)).toMatchObject({ status: 'pending' });
  });

  it('names an unknown --projection or --status', async () => {
    const projection = await annals('projections', 'dead-letters', '--projection', 'talley');
    expect([projection.code, projection.stderr]).toEqual([2, "annals: no projection named 'talley' (known: tally)\n"]);
    const status = await annals('projections', 'dead-letters', '--status', 'open');
    expect([status.code, status.stderr]).toEqual([2, "annals: --status must be one of pending, retried, skipped, all, got 'open'\n"]);
  });
});
