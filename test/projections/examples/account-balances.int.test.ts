import { defineProjection, type EventStore } from 'annals';
import { projectionSpec } from 'annals/testing';
import { describe, expect, it } from 'vitest';
import { accountBalances } from '../../../projections/account-balances/account-balances.projection.js';
import { createTestStore } from '../../setup/database.js';
import { bankEventsOf, bankSimulation } from './support/bank-history.js';
import { catchUp, everyEvent, generationsOf, readModel, seed, seededRandom } from './support/examples.js';

const store: EventStore = await createTestStore('ex_balances');
const bank = bankSimulation(store, seededRandom(seed), { accounts: 24 });

interface Row {
  account_id: string;
  owner: string;
  status: 'open' | 'closed';
  balance: number;
  version: number;
}

/** Folded from the log, per account stream: deposits minus withdrawals, closed or not. */
async function expectedRows(): Promise<Row[]> {
  const accounts = new Map<string, Row>();
  for (const event of await bankEventsOf(store)) {
    const accountId = event.streamId.slice('account-'.length);
    if (event.type === 'AccountOpened') {
      accounts.set(accountId, { account_id: accountId, owner: event.data.owner, status: 'open', balance: 0, version: event.version });
      continue;
    }
    const account = accounts.get(accountId)!;
    if (event.type === 'MoneyDeposited') account.balance += event.data.amount;
    if (event.type === 'MoneyWithdrawn') account.balance -= event.data.amount;
    if (event.type === 'AccountClosed') account.status = 'closed';
    account.version = event.version;
  }
  return [...accounts.values()].sort((a, b) => (a.account_id < b.account_id ? -1 : 1));
}

/** bigint comes back from pg as a string; balances stay below 2^53, so Number is exact. */
async function readRows(): Promise<Row[]> {
  const rows = await readModel<Omit<Row, 'balance'> & { balance: string }>(store, accountBalances, 'account_balances', 'account_id');
  return rows.map((row) => ({ ...row, balance: Number(row.balance) })).sort((a, b) => (a.account_id < b.account_id ? -1 : 1));
}

describe(`the account-balances projection (SEED=${seed})`, () => {
  it('keeps the balance and status of every account as the log says', async () => {
    await bank.run(300);
    await catchUp(store, [accountBalances], { batchSize: 40 });
    expect(await readRows()).toEqual(await expectedRows());

    await bank.run(200);
    await catchUp(store, [accountBalances]);
    const expected = await expectedRows();
    expect(await readRows()).toEqual(expected);
    expect(expected.some((row) => row.status === 'closed')).toBe(true);
    expect(expected.some((row) => row.balance > 2 ** 31)).toBe(true);
  });

  it('adds nothing when events are delivered again', async () => {
    // The whole history as one batch, then all of it again (same ids, versions and
    // positions, as a checkpoint moved back would deliver it), with no worker: a spec.
    const events = await everyEvent(store, { categories: ['account'] });
    const expected = await expectedRows();
    const spec = projectionSpec(accountBalances, { store });
    await spec.given(events).when([]).thenRows('account_balances', expected);
    await spec.given(events).when(events).thenRows('account_balances', expected);
  });

  it('rebuilds into the same balances', async () => {
    const v2 = defineProjection({ ...accountBalances.definition, version: 2 });
    await catchUp(store, [v2], { replayBatchSize: 50 });
    expect(await generationsOf(store, v2)).toEqual([[2, 'live']]);
    expect(await readRows()).toEqual(await expectedRows());
  });
});
