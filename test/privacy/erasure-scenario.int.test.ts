import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { bankAccount } from '../../domain/bank-account/bank-account.aggregate.js';
import { postLikes } from '../../domain/likes/likes.aggregate.js';
import { forget, handleCommand, loadAggregate, startRebuild, catchUpProjections, verifyErasure } from '../../src/index.js';
import { testDatabaseUrl } from '../setup/database.js';
import { bankDocuments, bankService } from '../graphql/support/bank-service.js';
import { graphql } from '../graphql/support/likes-service.js';

// The scenario end to end: a user's likes and account events are written, the
// user is forgotten, the read models rebuilt; then a dump of the store holds no
// plaintext, the aggregate still loads, and the GraphQL read shows the redacted value.

const bank = await bankService('privacy_scenario');
const pgDump = promisify(execFile);

/** Everything of the store's schema a `pg_dump` gives: events, snapshots, read models' tables are elsewhere. */
async function dumpOf(schema: string): Promise<string> {
  const { stdout } = await pgDump('pg_dump', ['--data-only', '--schema', schema, testDatabaseUrl], { maxBuffer: 256 * 1024 * 1024 });
  return stdout;
}

describe('forgetting a user', () => {
  it('leaves no plaintext in the log or snapshots, loads the aggregate, and reads redacted once rebuilt', async () => {
    const url = await bank.start();
    const user = `ada-${randomBytes(3).toString('hex')}`;
    const owner = `Ada Lovelace ${randomBytes(3).toString('hex')}`;
    expect((await graphql(url, bankDocuments.openAccount, { accountId: user, owner })).errors).toBeUndefined();
    // 60 events: the aggregate snapshots every 50, so a snapshot holds the owner in plaintext.
    for (let i = 0; i < 59; i++) await handleCommand(bank.store, bankAccount, user, { type: 'DepositMoney', data: { amount: 10 } });
    await handleCommand(bank.store, postLikes, 'p1', { type: 'LikePost', data: { postId: 'p1', userId: user } });
    await bank.catchUp();
    expect((await graphql(url, bankDocuments.account, { id: user })).data).toMatchObject({ account: { owner, balance: '590' } });
    const schema = bank.store.schema;
    const snapshots = () => bank.store.withTransaction((tx) => tx.query(`SELECT 1 FROM "${schema}".snapshots WHERE stream_id = $1`, [`account-${user}`]), { appends: false });
    expect(await snapshots()).toHaveLength(1);
    // Before: the log holds no plaintext (sealed), the snapshot does.
    expect(await dumpOf(schema)).toContain(owner);

    const forgotten = await forget(bank.store, user, { projections: bank.projections });
    expect(forgotten).toMatchObject({ keysDeleted: 1, snapshotsDropped: 1 });
    // The live read model still has the name until it is rebuilt, and the report says so.
    expect(forgotten.report.findings.map((f) => f.place)).toEqual(['read-model']);
    expect(await snapshots()).toHaveLength(0);
    expect(await dumpOf(schema)).not.toContain(owner);

    const account = await loadAggregate(bank.store, bankAccount, user);
    expect(account.state).toMatchObject({ status: 'open', owner: '[erased]', balance: 590 });
    // Commands still work on the account; at 100 events it is snapshotted again, redacted.
    await handleCommand(bank.store, bankAccount, user, { type: 'WithdrawMoney', data: { amount: 90 } });
    for (let i = 0; i < 39; i++) await handleCommand(bank.store, bankAccount, user, { type: 'DepositMoney', data: { amount: 10 } });
    expect(await snapshots()).toHaveLength(1);

    for (const projection of bank.projections) await startRebuild(bank.store, projection);
    await catchUpProjections(bank.store, bank.projections);
    expect((await graphql(url, bankDocuments.account, { id: user })).data).toMatchObject({ account: { owner: '[erased]', balance: '890' } });
    const after = await verifyErasure(bank.store, user, { projections: bank.projections, values: [owner] });
    expect(after).toMatchObject({ forgotten: true, clean: true, findings: [] });
    // The read models' schemas: no trace of the name either.
    const { stdout } = await pgDump('pg_dump', ['--data-only', testDatabaseUrl, '--schema', `${schema}*`], { maxBuffer: 256 * 1024 * 1024 });
    expect(stdout).not.toContain(owner);
    // The likes were never personal: they are untouched.
    expect((await bank.store.readStream('post-p1'))[0]!.data).toMatchObject({ userId: user });
  });
});
