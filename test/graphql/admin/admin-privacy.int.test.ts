import { describe, expect, it } from 'vitest';
import { catchUpProjections, erasedText, runProjections } from '../../../src/index.js';
import { composeSchema } from '../../../src/graphql/compose-schema.js';
import { adminGraphQL } from '../../../src/server/admin/admin-graphql.js';
import type { Principal } from '../../../src/server/principal.js';
import { bankAccountMutations } from '../../../domain/bank-account/bank-account.graphql.js';
import { accountBalancesGraphQL } from '../../../projections/account-balances/account-balances.graphql.js';
import { accountBalances } from '../../../projections/account-balances/account-balances.projection.js';
import { eventually } from '../../setup/database.js';
import { startService } from '../../server/support/http.js';
import { bankDocuments } from '../support/bank-service.js';
import { countedStore } from '../support/likes-service.js';
import { admin, ask, dataOf, writer } from './support/admin-service.js';

// Erasing a data subject over the admin schema: the bank account's owner is personal data
// of the account holder (subject: the account id), and account-balances declares it.

const { store } = await countedStore('admin_privacy', 10);
const composed = composeSchema([bankAccountMutations, accountBalancesGraphQL, adminGraphQL({ projections: [accountBalances] })]);

/** A listening service whose requests carry `principal` (none: anonymous). */
const startAs = async (principal: Principal | undefined) =>
  (await startService({ store, ...composed, context: () => (principal ? { principal } : {}) })).url;

const report = 'subject forgotten valuesSearched clean findings { place what count examples }';
const forgetSubject = `mutation ($subject: String!) { forgetSubject(subject: $subject) { subject keysDeleted snapshotsDropped position report { ${report} } } }`;
const erasure = `query ($subject: String!, $values: [String!]) { erasure(subject: $subject, values: $values) { ${report} } }`;
const owner = `query ($id: ID!) { account(id: $id) { owner } }`;

interface Finding {
  place: string;
  what: string;
  count: number;
  examples: string[];
}
interface Report {
  subject: string;
  forgotten: boolean;
  valuesSearched: number;
  clean: boolean;
  findings: Finding[];
}
interface Forgotten {
  forgetSubject: { subject: string; keysDeleted: number; snapshotsDropped: number; position: string; report: Report };
}

describe('erasure fields need the admin role', () => {
  const fields = [
    ['forgetSubject', 'mutation { forgetSubject(subject: "acc-nobody") { keysDeleted } }'],
    ['erasure', '{ erasure(subject: "acc-nobody") { clean } }'],
  ] as const;

  it('without a principal: UNAUTHENTICATED; lacking the role: FORBIDDEN; even with a bad subject', async () => {
    for (const [principal, code] of [
      [undefined, 'UNAUTHENTICATED'],
      [writer, 'FORBIDDEN'],
    ] as const) {
      const url = await startAs(principal);
      for (const [field, query] of fields) {
        const answer = await ask(url, query);
        expect(answer.errors, `${field} as ${code}`).toEqual([expect.objectContaining({ path: [field], extensions: expect.objectContaining({ code }) })]);
        // Non-null fields: the null reaches data.
        expect(answer.data).toBeNull();
      }
      // The role comes first: nothing about the input is revealed.
      const bad = await ask(url, 'mutation { forgetSubject(subject: "") { keysDeleted } }');
      expect(bad.errors?.[0]?.extensions.code).toBe(code);
    }
  });
});

describe('forgetSubject and erasure over the admin schema', () => {
  it("erases an account holder's name: the read model keeps it until rebuilt, then reads it redacted and the report is clean", async () => {
    const url = await startAs(admin);
    dataOf(await ask(url, bankDocuments.openAccount, { accountId: 'acc-x', owner: 'Grace Hopper' }));
    await catchUpProjections(store, [accountBalances]);
    expect(dataOf(await ask(url, owner, { id: 'acc-x' }))).toEqual({ account: { owner: 'Grace Hopper' } });

    // Before: the key is there, and the name is in the read model.
    const before = dataOf<{ erasure: Report }>(await ask(url, erasure, { subject: 'acc-x' })).erasure;
    expect(before).toMatchObject({ subject: 'acc-x', forgotten: false, valuesSearched: 1, clean: false });
    expect(before.findings.map((f) => f.place)).toEqual(['KEY', 'READ_MODEL']);

    // A writer cannot forget anyone, and nothing is erased by trying.
    const refused = await ask(await startAs(writer), forgetSubject, { subject: 'acc-x' });
    expect(refused.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    expect(dataOf(await ask(url, owner, { id: 'acc-x' }))).toEqual({ account: { owner: 'Grace Hopper' } });

    const forgotten = dataOf<Forgotten>(await ask(url, forgetSubject, { subject: 'acc-x' })).forgetSubject;
    expect(forgotten).toMatchObject({ subject: 'acc-x', keysDeleted: 1, snapshotsDropped: 0 });
    expect(forgotten.position).toMatch(/^\d+$/);
    expect(forgotten.report).toMatchObject({ subject: 'acc-x', forgotten: true, valuesSearched: 1, clean: false });
    // The read model, not rebuilt yet, still holds the name.
    expect(forgotten.report.findings).toEqual([
      { place: 'READ_MODEL', what: expect.stringContaining('account-balances: account_balances.owner'), count: expect.any(Number), examples: ['acc-x'] },
    ]);
    const [tombstone] = await store.readStream('annals_privacy-forgotten');
    expect(tombstone).toMatchObject({ type: 'SubjectForgotten', data: { subject: 'acc-x', keysDeleted: 1 } });
    expect(tombstone!.globalPosition.toString()).toBe(forgotten.position);

    // Forgetting again deletes nothing more.
    const again = dataOf<Forgotten>(await ask(url, forgetSubject, { subject: 'acc-x' })).forgetSubject;
    expect(again.keysDeleted).toBe(0);

    const runner = runProjections(store, [accountBalances], { pollIntervalMs: 50 });
    try {
      await runner.ready;
      dataOf(await ask(url, `mutation { rebuildProjection(name: "account-balances") { generation } }`));
      await eventually(async () => {
        expect(dataOf(await ask(url, owner, { id: 'acc-x' }))).toEqual({ account: { owner: erasedText } });
      }, 30_000);
    } finally {
      await runner.stop();
    }

    const after = dataOf<{ erasure: Report }>(await ask(url, erasure, { subject: 'acc-x', values: ['Grace Hopper'] })).erasure;
    expect(after).toEqual({ subject: 'acc-x', forgotten: true, valuesSearched: 1, clean: true, findings: [] });
  });

  it('refuses a subject that is not one, or values that are too many or too long: BAD_USER_INPUT naming the argument', async () => {
    const url = await startAs(admin);
    const empty = await ask(url, forgetSubject, { subject: '' });
    expect(empty.status).toBe(200);
    expect(empty.data).toBeNull();
    expect(empty.errors).toEqual([
      expect.objectContaining({ path: ['forgetSubject'], extensions: { code: 'BAD_USER_INPUT', issues: [{ field: 'subject', reason: 'must not be empty' }] } }),
    ]);
    const padded = await ask(url, erasure, { subject: ' acc-x' });
    expect(padded.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', issues: [{ field: 'subject', reason: expect.stringContaining('white space') }] });
    const both = await ask(url, erasure, { subject: '', values: ['ok', 'x'.repeat(1001)] });
    expect(both.errors?.[0]?.extensions).toEqual({
      code: 'BAD_USER_INPUT',
      issues: [
        { field: 'subject', reason: 'must not be empty' },
        { field: 'values[1]', reason: 'must be at most 1000 characters' },
      ],
    });
    const many = await ask(url, erasure, { subject: 'acc-x', values: Array.from({ length: 101 }, (_, i) => `value-${i}`) });
    expect(many.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', issues: [{ field: 'values', reason: 'must hold at most 100 values' }] });
    // A subject nobody has: nothing to delete, and a tombstone all the same.
    const nobody = dataOf<Forgotten>(await ask(url, forgetSubject, { subject: 'acc-nobody' })).forgetSubject;
    expect(nobody).toMatchObject({ keysDeleted: 0, snapshotsDropped: 0, report: { forgotten: true, clean: true, findings: [] } });
  });
});
