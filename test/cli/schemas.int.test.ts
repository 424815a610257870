import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTestStore } from '../setup/database.js';
import { runAnnals, writeConfig } from './support/cli.js';

// `annals schemas check` (docs/schemas.md): the config's aggregates' stored events run
// through their schemas; exit 1 when one does not decode, as a CI step before a deploy.

const tally = join(resolve(import.meta.dirname, '../..'), 'test', 'support', 'tally.ts');
const store = await createTestStore('cli_schemas');
const config = await writeConfig(store.schema, [
  `import { tally } from ${JSON.stringify(tally)};`,
  `export default { schema: ${JSON.stringify(store.schema)}, aggregates: [tally], projections: [] };`,
]);
const noReaders = await writeConfig(store.schema, [`export default { schema: ${JSON.stringify(store.schema)}, projections: [] };`]);

await store.appendToStream('tally-1', [1, 2, 3].map((n) => ({ type: 'Counted', data: { n } })), { expectedVersion: 'no_stream' });

describe('annals schemas check', () => {
  it('prints a table and exits 0 when every stored event decodes', async () => {
    const { code, stdout } = await runAnnals(['schemas', 'check', '--config', config]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/aggregate tally\s+Counted\s+1\s+1\s+3\s+3\s+0/);
    expect(stdout).toContain('ok: the stored events decode with this code (a sample of each stored version checked; --full reads them all)');
  });

  it('exits 1 naming the event, the path and the reason when one does not decode; --json has the report', async () => {
    const bad = await store.appendToStream('tally-2', [{ type: 'Counted', data: { n: -4 } }], { expectedVersion: 'no_stream' });
    const { code, stdout } = await runAnnals(['schemas', 'check', '--full', '--config', config]);
    expect(code).toBe(1);
    expect(stdout).toContain(`aggregate tally: 1 of 4 checked Counted v1 events do not decode, e.g.`);
    expect(stdout).toContain(`position ${bad.lastGlobalPosition} in tally-2: data does not fit schema version 1 (data.n: Too small`);
    expect(stdout).toContain('FAILED: this code cannot read some stored events (every stored event checked)');

    const json = await runAnnals(['schemas', 'check', '--json', '--config', config]);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout);
    expect(report.ok).toBe(false);
    expect(report.results[0]).toMatchObject({ type: 'Counted', stored: 4, checked: 4, failed: 1 });
    expect(report.results[0].examples[0].globalPosition).toBe(String(bad.lastGlobalPosition));
  });

  it('refuses bad options and a config with nothing to check, exit 2', async () => {
    const zero = await runAnnals(['schemas', 'check', '--sample', '0', '--config', config]);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain('annals: --sample must be at least 1');
    const both = await runAnnals(['schemas', 'check', '--sample', '5', '--full', '--config', config]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give --sample or --full, not both');
    const none = await runAnnals(['schemas', 'check', '--config', noReaders]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('the config lists no aggregates and no projections');
  });
});
