import { randomUUID } from 'node:crypto';
import { aggregateStream, handleCommand, type CommandInput, type EventStore } from 'annals';
import { beforeAll, describe, expect, it } from 'vitest';
import { bankAccount, bankAccountCommands } from '../../domain/bank-account/index.js';
import { createTestStore } from '../setup/database.js';

// At the top level: the helper registers the file's clean-up hooks.
const store: EventStore = await createTestStore('time_travel');
let accountId: string;

const send = (command: CommandInput<typeof bankAccountCommands>) => handleCommand(store, bankAccount, accountId, command);

/** Dates the account's events, as if they had been recorded then. */
async function recordedAt(dates: Record<number, string>): Promise<void> {
  await store.withTransaction(async (tx) => {
    for (const [version, date] of Object.entries(dates)) {
      await tx.query(`UPDATE "${store.schema}".events SET recorded_at = $1 WHERE stream_id = $2 AND stream_version = $3`, [
        date,
        bankAccount.streamId(accountId),
        Number(version),
      ]);
    }
  });
}

beforeAll(async () => {
  accountId = randomUUID();
  await send({ type: 'OpenAccount', data: { accountId, owner: 'ada' } });
  await send({ type: 'DepositMoney', data: { amount: 100 } });
  await send({ type: 'DepositMoney', data: { amount: 50 } });
  await send({ type: 'WithdrawMoney', data: { amount: 30 } });
  await recordedAt({ 1: '2025-01-10T09:00:00Z', 2: '2025-01-10T09:05:00Z', 3: '2025-02-01T12:00:00Z' }); // 4: now
});

describe('the state as of a stream version', () => {
  it.each([
    [0, 0, 'unopened'],
    [1, 0, 'open'],
    [2, 100, 'open'],
    [3, 150, 'open'],
    [4, 120, 'open'],
    [99, 120, 'open'],
  ])('toVersion %i: balance %i', async (toVersion, balance, status) => {
    const { state, version } = await aggregateStream(store, bankAccount, accountId, { toVersion });
    expect(state).toMatchObject({ balance, status });
    expect(version).toBe(Math.min(toVersion, 4));
  });
});

describe('the state as of a moment', () => {
  it.each([
    ['2024-12-31T23:59:59Z', 0, 0],
    ['2025-01-10T09:00:00Z', 1, 0], // at or before: the event recorded at that instant is in
    ['2025-01-10T09:04:59Z', 1, 0],
    ['2025-01-31T00:00:00Z', 2, 100],
    ['2025-02-01T12:00:00Z', 3, 150],
    ['2099-01-01T00:00:00Z', 4, 120],
  ])('as of %s: version %i, balance %i', async (asOf, version, balance) => {
    expect(await aggregateStream(store, bankAccount, accountId, { asOf: new Date(asOf) })).toMatchObject({ version, state: { balance } });
  });

  it('with both, the earlier bound wins', async () => {
    const asOf = new Date('2025-02-02T00:00:00Z');
    expect(await aggregateStream(store, bankAccount, accountId, { asOf, toVersion: 2 })).toMatchObject({ version: 2 });
    expect(await aggregateStream(store, bankAccount, accountId, { asOf: new Date('2025-01-11'), toVersion: 4 })).toMatchObject({
      version: 2,
    });
  });
});

describe('on a stream longer than one read page (1,000 events)', () => {
  it('stops at the version or moment asked for, inside a later page', async () => {
    const id = randomUUID();
    const streamId = bankAccount.streamId(id);
    await store.appendToStream(streamId, [{ type: 'AccountOpened', data: { accountId: id, owner: 'ada' } }]);
    await store.appendToStream(streamId, Array.from({ length: 2_499 }, (_, i) => ({ type: 'MoneyDeposited', data: { amount: i + 1 } })));
    await store.withTransaction((tx) =>
      tx.query(
        `UPDATE "${store.schema}".events SET recorded_at = timestamptz '2025-03-01T00:00:00Z' + stream_version * interval '1 second' WHERE stream_id = $1`,
        [streamId],
      ),
    );
    const balanceAfter = (version: number) => ((version - 1) * version) / 2; // deposits of 1, 2, … version - 1

    expect(await aggregateStream(store, bankAccount, id, { toVersion: 1_500 })).toMatchObject({
      version: 1_500,
      state: { balance: balanceAfter(1_500) },
    });
    expect(await aggregateStream(store, bankAccount, id, { asOf: new Date('2025-03-01T00:30:00Z') })).toMatchObject({
      version: 1_800,
      state: { balance: balanceAfter(1_800) },
    });
  });
});
