import { defineProjection, type EventStore } from 'annals';
import { describe, expect, it } from 'vitest';
import { accountStatements } from '../../../projections/account-statements/account-statements.projection.js';
import { createTestStore } from '../../setup/database.js';
import { bankEventsOf, bankSimulation } from './support/bank-history.js';
import { catchUp, deliverAgain, everyEvent, generationsOf, readModel, seed, seededRandom } from './support/examples.js';

const store: EventStore = await createTestStore('ex_statements');
const bank = bankSimulation(store, seededRandom(seed), { accounts: 24 });

interface Row {
  account_id: string;
  version: number;
  kind: 'deposit' | 'withdrawal';
  amount: number;
  balance_after: number;
  recorded_at: Date;
}

const inOrder = (a: Row, b: Row) => (a.account_id < b.account_id ? -1 : a.account_id > b.account_id ? 1 : a.version - b.version);

/** Folded from the log: a line per deposit or withdrawal, with the running balance of its account. */
async function expectedLines(): Promise<Row[]> {
  const balances = new Map<string, number>();
  const lines: Row[] = [];
  for (const event of await bankEventsOf(store)) {
    if (event.type !== 'MoneyDeposited' && event.type !== 'MoneyWithdrawn') continue;
    const accountId = event.streamId.slice('account-'.length);
    const balance = (balances.get(accountId) ?? 0) + (event.type === 'MoneyDeposited' ? event.data.amount : -event.data.amount);
    balances.set(accountId, balance);
    lines.push({
      account_id: accountId,
      version: event.version,
      kind: event.type === 'MoneyDeposited' ? 'deposit' : 'withdrawal',
      amount: event.data.amount,
      balance_after: balance,
      recorded_at: event.recordedAt,
    });
  }
  return lines.sort(inOrder);
}

/** bigint comes back from pg as a string; amounts and balances stay below 2^53. */
async function readLines(): Promise<Row[]> {
  const rows = await readModel<Row & { amount: string; balance_after: string }>(store, accountStatements, 'account_statements', 'account_id, version');
  return rows.map((row) => ({ ...row, amount: Number(row.amount), balance_after: Number(row.balance_after) })).sort(inOrder);
}

describe(`the account-statements projection (SEED=${seed})`, () => {
  it('writes a line per deposit and withdrawal with the running balance, as the log says', async () => {
    await bank.run(300);
    await catchUp(store, [accountStatements], { batchSize: 40 });
    expect(await readLines()).toEqual(await expectedLines());

    await bank.run(200);
    await catchUp(store, [accountStatements]);
    expect(await readLines()).toEqual(await expectedLines());
  });

  it('changes no line when events are delivered again, even out of order', async () => {
    const before = await readLines();
    const events = await everyEvent(store, { categories: ['account'] });
    await deliverAgain(store, accountStatements, events.reverse());
    expect(await readLines()).toEqual(before);
    expect(before).toEqual(await expectedLines());
  });

  it('rebuilds into the same lines', async () => {
    const v2 = defineProjection({ ...accountStatements.definition, version: 2 });
    await catchUp(store, [v2], { replayBatchSize: 50 });
    expect(await generationsOf(store, v2)).toEqual([[2, 'live']]);
    expect(await readLines()).toEqual(await expectedLines());
  });
});
