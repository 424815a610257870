import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { catchUpProjections, setupProjection } from '../../src/index.js';
import { createTestStore } from '../setup/database.js';
import { counted, tallyProjection } from '../support/tally.js';
import { runAnnals, writeConfig } from './support/cli.js';

// `annals retention run` and a rebuild after it (docs/retention.md): the config's policy
// enforced once, held back by a projection that is behind; a rebuild refused until told
// where to start or to accept the removed history.

const tally = join(resolve(import.meta.dirname, '../..'), 'test', 'support', 'tally.ts');
const retentionModule = join(resolve(import.meta.dirname, '../..'), 'src', 'retention', 'define-retention.ts');
const store = await createTestStore('cli_retention');
const config = await writeConfig(store.schema, [
  `import { tallyProjection } from ${JSON.stringify(tally)};`,
  `import { defineRetention } from ${JSON.stringify(retentionModule)};`,
  `export default {`,
  `  schema: ${JSON.stringify(store.schema)},`,
  `  projections: [tallyProjection({ name: 'tally' })],`,
  `  retention: defineRetention({ categories: { tally: { maxCount: 2 } } }),`,
  `};`,
]);
const noPolicy = await writeConfig(store.schema, [`export default { schema: ${JSON.stringify(store.schema)}, projections: [] };`]);

const projection = tallyProjection({ name: 'tally' });
await setupProjection(store, projection);
await store.appendToStream('tally-1', Array.from({ length: 5 }, () => counted('k')), { expectedVersion: 'no_stream' });

describe('annals retention run', () => {
  it('waits for a projection that is behind, naming it; removes once it caught up', async () => {
    const held = await runAnnals(['retention', 'run', '--config', config]);
    expect(held.code).toBe(0);
    expect(held.stdout).toMatch(/tally\s+\(category\)\s+0\s+3/);
    expect(held.stdout).toContain('3 expired event(s) wait for readers that still need them:');
    expect(held.stdout).toMatch(/ {2}projection tally \(generation 1\) at position \d+/);

    await catchUpProjections(store, [projection]);
    const dry = await runAnnals(['retention', 'run', '--dry-run', '--json', '--config', config]);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, results: [{ category: 'tally', removed: 3, waiting: 0 }], heldBackBy: [] });
    const run = await runAnnals(['retention', 'run', '--config', config]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/tally\s+\(category\)\s+3\s+0/);
    expect((await store.readStream('tally-1')).map((e) => e.version)).toEqual([4, 5]);
  });

  it('shows in annals status: what was removed per category, and what is due', async () => {
    await store.appendToStream('tally-1', [counted('k'), counted('k'), counted('k')], { expectedVersion: 5 });
    const json = await runAnnals(['status', '--json', '--config', config]);
    expect(json.code).toBe(0);
    const { retention } = JSON.parse(json.stdout);
    expect(retention.removed).toEqual([{ category: 'tally', removedEvents: 3, removedThrough: expect.stringMatching(/^\d+$/), lastRemovedAt: expect.any(String) }]);
    // Versions 6 to 8 expire 4 to 6: the projection processed 4 and 5 (due now), not 6 (it waits).
    expect(retention.backlog).toEqual([{ category: 'tally', removed: 2, waiting: 1 }]);
    expect(retention.heldBackBy).toEqual([{ kind: 'projection', name: 'tally (generation 1)', position: expect.stringMatching(/^\d+$/) }]);
    const text = await runAnnals(['status', '--config', config]);
    expect(text.stdout).toMatch(/retention\s+removed\s+through\s+due\s+waiting\n\s*tally\s+3\s+\d+\s+2\s+1/);
    expect(text.stdout).toMatch(/waiting on projection tally \(generation 1\) at position \d+/);
    await catchUpProjections(store, [projection]);
  });

  it('then refuses a rebuild from the start (exit 1), and rebuilds with --accept-removed-history', async () => {
    const refused = await runAnnals(['projections', 'rebuild', 'tally', '--config', config]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/would replay an incomplete history: retention removed events of category 'tally' up to position \d+/);
    const accepted = await runAnnals(['projections', 'rebuild', 'tally', '--accept-removed-history', '--json', '--config', config]);
    expect(accepted.code).toBe(0);
  });

  it('says so when the config has no policy, exit 2', async () => {
    const { code, stderr } = await runAnnals(['retention', 'run', '--config', noPolicy]);
    expect(code).toBe(2);
    expect(stderr).toContain('the config has no retention policy');
  });
});
