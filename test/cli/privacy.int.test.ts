import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { catchUpProjections, handleCommand, readSchemaOf, setupProjection } from '../../src/index.js';
import { bankAccount } from '../../domain/bank-account/index.js';
import { accountBalances } from '../../projections/index.js';
import { createTestStore } from '../setup/database.js';
import { runAnnals, writeConfig } from './support/cli.js';

// `annals privacy forget` and `annals privacy verify` (docs/privacy.md): a bank account's
// owner is personal data of the account holder; forgetting them leaves the plaintext in
// the account-balances read model, which verify reports (exit 1) until it is rebuilt.

const projection = join(resolve(import.meta.dirname, '../..'), 'projections', 'account-balances', 'account-balances.projection.ts');
const store = await createTestStore('cli_privacy');
const config = await writeConfig(store.schema, [
  `import { accountBalances } from ${JSON.stringify(projection)};`,
  `export default { schema: ${JSON.stringify(store.schema)}, projections: [accountBalances] };`,
]);

const owners = async () =>
  store.withTransaction(
    (tx) => tx.query<{ owner: string }>(`SELECT owner FROM "${readSchemaOf(store.schema, accountBalances)}".account_balances WHERE account_id = 'acc'`),
    { appends: false },
  );

await setupProjection(store, accountBalances);
await handleCommand(store, bankAccount, 'acc', { type: 'OpenAccount', data: { accountId: 'acc', owner: 'Ada Lovelace' } });
await catchUpProjections(store, [accountBalances]);

describe('annals privacy', () => {
  it('verify before forget: the subject still has a key, exit 1', async () => {
    expect(await owners()).toEqual([{ owner: 'Ada Lovelace' }]);
    const { code, stdout } = await runAnnals(['privacy', 'verify', 'acc', '--config', config]);
    expect(code).toBe(1);
    expect(stdout).toContain('subject acc: not forgotten (their data key exists)');
    expect(stdout).toMatch(/^key\s+1\s+the subject still has a data key/m);
    expect(stdout).toContain('FOUND: acc is not forgotten (annals privacy forget acc erases them)');

    const json = await runAnnals(['privacy', 'verify', 'acc', '--json', '--config', config]);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({ subject: 'acc', forgotten: false, valuesSearched: 1, clean: false });
    expect(report.findings.map((f: { place: string }) => f.place)).toContain('key');
  });

  it('forget: deletes the key, exit 0, naming the read model that still holds the plaintext', async () => {
    const { code, stdout } = await runAnnals(['privacy', 'forget', 'acc', '--config', config]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^forgot subject acc: 1 key\(s\) deleted, 0 snapshot\(s\) dropped, tombstone at position \d+$/m);
    expect(stdout).toContain('left to do: their plaintext is still found here');
    expect(stdout).toMatch(/^read-model\s+\d+\s+read model account-balances: account_balances\.owner \(rebuild it to rewrite them redacted\)\s+acc$/m);
    expect(stdout).toContain('not clean yet: rebuild the read models above (annals projections rebuild NAME), then run annals privacy verify acc --value TEXT');
    const [tombstone] = await store.readStream('annals_privacy-forgotten');
    expect(tombstone).toMatchObject({ type: 'SubjectForgotten', data: { subject: 'acc', keysDeleted: 1 } });

    // Again: nothing left to delete; --json has the result, the position as a string.
    const again = await runAnnals(['privacy', 'forget', 'acc', '--json', '--config', config]);
    expect(again.code).toBe(0);
    const result = JSON.parse(again.stdout);
    expect(result).toMatchObject({ subject: 'acc', keysDeleted: 0, snapshotsDropped: 0, position: expect.stringMatching(/^\d+$/) });
    expect(result.report).toMatchObject({ forgotten: true, clean: false, findings: [{ place: 'read-model', count: 1, examples: ['acc'] }] });
  });

  it('verify --value finds the read model until it is rebuilt, then exits 0', { timeout: 120_000 }, async () => {
    const before = await runAnnals(['privacy', 'verify', 'acc', '--value', 'Ada Lovelace', '--value', 'Lovelace', '--config', config]);
    expect(before.code).toBe(1);
    expect(before.stdout).toContain('subject acc: forgotten (no data key)');
    expect(before.stdout).toContain('values searched: 2');
    expect(before.stdout).toMatch(/^read-model\s+\d+\s+read model account-balances: account_balances\.owner/m);
    expect(before.stdout).toContain("FOUND: acc's personal data is still held in 1 place(s)");

    const rebuilt = await runAnnals(['projections', 'rebuild', 'account-balances', '--config', config]);
    expect(rebuilt.code).toBe(0);
    expect(await owners()).toEqual([{ owner: '[erased]' }]);

    const after = await runAnnals(['privacy', 'verify', 'acc', '--value', 'Ada Lovelace', '--config', config]);
    expect(after.code).toBe(0);
    expect(after.stdout).toContain('no findings');
    expect(after.stdout).toContain('clean: acc is forgotten and none of their plaintext was found in the places checked');
    const json = await runAnnals(['privacy', 'verify', 'acc', '--value', 'Ada Lovelace', '--json', '--config', config]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ subject: 'acc', forgotten: true, valuesSearched: 1, findings: [], clean: true });
  });

  it('without --value after forget, says the plaintext must be given', async () => {
    const { code, stdout } = await runAnnals(['privacy', 'verify', 'acc', '--config', config]);
    expect(code).toBe(0);
    expect(stdout).toContain('values searched: 0');
    expect(stdout).toContain('pass --value TEXT');
  });

  it('refuses a missing or empty subject and an empty --value, exit 2', async () => {
    const missing = await runAnnals(['privacy', 'verify', '--config', config]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('annals: annals privacy verify needs SUBJECT; see annals privacy verify --help');
    const empty = await runAnnals(['privacy', 'forget', '', '--config', config]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('annals: SUBJECT: must not be empty, got ""');
    const value = await runAnnals(['privacy', 'verify', 'acc', '--value', '', '--config', config]);
    expect(value.code).toBe(2);
    expect(value.stderr).toContain('annals: --value must not be empty');
  });
});
