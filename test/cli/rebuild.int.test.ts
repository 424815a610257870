import { catchUpProjections, projectionStatus, readSchemaOf, startRebuild, type EventStore } from 'annals';
import { describe, expect, it } from 'vitest';
import { createTestStore } from '../setup/database.js';
import { counted, tallyProjection } from '../support/tally.js';
import { appendVisible } from './support/append-visible.js';
import { runAnnals, writeTestConfig } from './support/cli.js';

const store: EventStore = await createTestStore('cli_rebuild');
const config = await writeTestConfig(store.schema, [{ name: 'tally', partitions: 2 }]);
const tally = tallyProjection({ partitions: 2 });

async function tallies(): Promise<Record<string, number>> {
  const rows = await store.withTransaction((tx) =>
    tx.query<{ key: string; n: number }>(`SELECT key, n FROM "${readSchemaOf(store.schema, tally)}".tallies ORDER BY key`),
  );
  return Object.fromEntries(rows.map((row) => [row.key, row.n]));
}

const generations = async () => (await projectionStatus(store, [tally])).partitions.map((p) => [p.generation, p.partition, p.status]);

describe('annals projections rebuild', () => {
  it('replays into a new generation, switches readers to it and exits 0', { timeout: 120_000 }, async () => {
    // Given a live generation 1
    for (let i = 0; i < 20; i++) await appendVisible(store, `tally-${i}`, [counted(`k${i % 3}`), counted('all')]);
    await catchUpProjections(store, [tally]);
    const before = await tallies();
    expect(before.all).toBe(20);

    // When it is rebuilt
    const { code, stdout, stderr } = await runAnnals(['projections', 'rebuild', 'tally', '--config', config]);

    // Then generation 2 is live with the same read model
    expect(code).toBe(0);
    expect(stdout).toContain('rebuilding tally version 1 into generation 2 from position 0');
    expect(stdout).toMatch(/switched tally to generation 2: [\d,]+ events replayed here in /);
    // Not a terminal: plain progress lines, no control characters
    expect(stderr).toMatch(/^tally g2: +[\d.]+% +[\d,]+ events\/s/m);
    expect(stderr).not.toContain('\x1b');
    expect(await generations()).toEqual([
      [2, 0, 'live'],
      [2, 1, 'live'],
    ]);
    expect(await tallies()).toEqual(before);
  });

  it('resumes a rebuild under way rather than starting another', { timeout: 120_000 }, async () => {
    const under = await startRebuild(store, tally);
    expect(under.status).toBe('building');
    // Nothing replayed yet: each of its partitions is at 0% of the log's events.
    const pending = (await projectionStatus(store, [tally])).partitions.filter((p) => p.generation === under.generation);
    expect(pending.map((p) => p.rebuildProgress)).toEqual([0, 0]);
    const { code, stdout } = await runAnnals(['projections', 'rebuild', 'tally', '--from', '5', '--config', config]);
    expect(code).toBe(0);
    expect(stdout).toContain(`resuming the rebuild of tally into generation ${under.generation} (started from position 0); --from 5 is ignored`);
    expect(stdout).toContain(`switched tally to generation ${under.generation}`);
    expect((await generations()).map(([generation]) => generation)).toEqual([under.generation, under.generation]);
  });

  it('replays only what follows --from', { timeout: 120_000 }, async () => {
    const events = await store.readAll({ types: ['Counted'] });
    const from = events[events.length - 3]!.globalPosition;
    const { code, stdout } = await runAnnals(['projections', 'rebuild', 'tally', '--from', from.toString(), '--config', config]);
    expect(code).toBe(0);
    expect(stdout).toContain(`from position ${from}`);
    const after = await tallies();
    expect(Object.values(after).reduce((a, b) => a + b, 0)).toBe(2);
  });

  it('with --json, prints JSON lines on stdout: start, progress, then the result, positions as strings', { timeout: 120_000 }, async () => {
    // Given a live generation and more events than one batch
    for (let i = 0; i < 5; i++) await appendVisible(store, `tally-json-${i}`, [counted('json'), counted('all')]);
    await catchUpProjections(store, [tally]);
    const head = (await projectionStatus(store, [tally])).head;

    // When it is rebuilt with --json
    const { code, stdout, stderr } = await runAnnals(['projections', 'rebuild', 'tally', '--json', '--config', config]);

    // Then every line of stdout is one JSON object
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    const objects = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const [start, ...rest] = objects;
    const result = rest.pop()!;
    expect(start).toMatchObject({ event: 'start', projection: 'tally', version: 1, status: 'building', from: '0', resumed: false });
    const generation = start!.generation as number;
    // At least one read of the status, each with the figures of the text bar and where the generation is
    expect(rest.length).toBeGreaterThanOrEqual(1);
    for (const progress of rest) {
      expect(progress).toMatchObject({ event: 'progress', projection: 'tally', generation });
      expect(progress.position).toMatch(/^\d+$/);
      expect(progress.target).toMatch(/^\d+$/);
      expect(BigInt(progress.position as string)).toBeLessThanOrEqual(BigInt(progress.target as string));
      expect(BigInt(progress.target as string)).toBeGreaterThanOrEqual(head);
      expect(progress.share).toBeGreaterThanOrEqual(0);
      expect(progress.share).toBeLessThanOrEqual(1);
      expect(typeof progress.eventsPerSecond).toBe('number');
      expect(typeof progress.elapsedMs).toBe('number');
    }
    // The last one found it switched
    expect(rest.at(-1)).toMatchObject({ share: 1 });
    expect(result).toMatchObject({ event: 'result', projection: 'tally', generation, outcome: 'switched', share: 1 });
    expect(typeof result.eventsReplayed).toBe('number');
    // No bar or text on either stream; stderr is left for warnings
    expect(stdout).not.toContain('rebuilding tally');
    expect(stderr).not.toMatch(/tally g\d+/);
    expect((await generations()).map(([g, , status]) => [g, status])).toEqual([
      [generation, 'live'],
      [generation, 'live'],
    ]);
  });
});
