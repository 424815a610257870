import { randomUUID } from 'node:crypto';
import {
  aggregateStream,
  ConcurrencyError,
  createEventStore,
  handleCommand,
  type CommandInput,
  type EventStore,
  type HandleCommandOptions,
} from 'annals';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bankAccount, bankAccountCommands, InsufficientFunds } from '../../../domain/bank-account/index.js';
import { createTestStore, testDatabaseUrl } from '../../setup/database.js';
import { countingConflicts, startingLine } from '../../aggregates/support/sessions.js';

type AccountCommand = CommandInput<typeof bankAccountCommands>;

// At the top level: the helper registers the file's clean-up hooks.
const store: EventStore = await createTestStore('bank_concurrency');
/** One store, with its own pool, per concurrent caller: separate application instances. */
let instances: EventStore[];

beforeAll(async () => {
  instances = Array.from({ length: 30 }, () =>
    createEventStore({ connectionString: testDatabaseUrl, maxConnections: 1 }, { schema: store.schema }),
  );
  // Connect every pool now, so connecting does not spread the callers out in time.
  await Promise.all(instances.map((instance) => instance.getStreamInfo('warm-up')));
});
afterAll(() => Promise.all(instances.map((instance) => instance.close())));

const deposit = (amount: number, id?: string): AccountCommand => ({ type: 'DepositMoney', data: { amount }, ...(id ? { id } : {}) });
const withdraw = (amount: number, id?: string): AccountCommand => ({ type: 'WithdrawMoney', data: { amount }, ...(id ? { id } : {}) });

/** An open account holding `balance`. */
async function accountWith(balance: number): Promise<string> {
  const id = randomUUID();
  await handleCommand(store, bankAccount, id, { type: 'OpenAccount', data: { accountId: id, owner: 'ada' } });
  await handleCommand(store, bankAccount, id, deposit(balance));
  return id;
}

/**
 * Sends every command at once, each from its own store instance. All of them read the
 * account before any appends (see startingLine), so they conflict for certain.
 */
function race(accountId: string, commands: AccountCommand[], options: HandleCommandOptions, counter = { conflicts: 0 }) {
  const line = startingLine(commands.length);
  return Promise.allSettled(
    commands.map((command, i) =>
      handleCommand(line.hold(countingConflicts(instances[i]!, counter)), bankAccount, accountId, command, options),
    ),
  );
}

/** The balance after every event of the stream, in order. */
async function balances(accountId: string): Promise<number[]> {
  const { version } = await aggregateStream(store, bankAccount, accountId);
  const states = [];
  for (let v = 1; v <= version; v++) states.push((await aggregateStream(store, bankAccount, accountId, { toVersion: v })).state.balance);
  return states;
}

describe('20 withdrawals and 10 deposits at once, from 30 application instances', () => {
  it('retry until every command is decided on fresh state: nothing lost, never overdrawn', async () => {
    const accountId = await accountWith(100);
    const deposits = Array.from({ length: 10 }, (_, i) => deposit(i + 1)); // 55 in all
    const withdrawals = Array.from({ length: 20 }, () => withdraw(10)); // 200 asked, at most 155 there
    const commands = [...withdrawals.slice(0, 10), ...deposits, ...withdrawals.slice(10)];
    const counter = { conflicts: 0 };

    const results = await race(accountId, commands, { retries: 50 }, counter);

    // The retry path ran: all 30 read the same version, so at least 29 appends conflicted...
    expect(counter.conflicts).toBeGreaterThanOrEqual(29);
    // ...and no ConcurrencyError reached a caller: each command ended accepted or refused by a rule.
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    for (const error of refused) {
      expect(error).toBeInstanceOf(InsufficientFunds);
      expect((error as InsufficientFunds).details.balance).toBeLessThan(10); // refused on a fresh balance
    }
    const accepted = commands.filter((_, i) => results[i]!.status === 'fulfilled');
    expect(accepted.filter((c) => c.type === 'DepositMoney')).toHaveLength(10);
    const withdrawn = accepted.filter((c) => c.type === 'WithdrawMoney').length * 10;
    expect(refused.length).toBeGreaterThanOrEqual(5);

    const replayed = await aggregateStream(store, bankAccount, accountId);
    expect(replayed.state.balance).toBe(100 + 55 - withdrawn);
    expect(replayed.version).toBe(2 + accepted.length);
    // The callers' own answers agree: the last command to commit saw the final balance.
    const answers = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const last = answers.reduce((a, b) => (a.nextExpectedVersion > b.nextExpectedVersion ? a : b));
    expect(last).toMatchObject({ nextExpectedVersion: replayed.version, state: { balance: replayed.state.balance } });
    expect(new Set(answers.map((a) => a.nextExpectedVersion)).size).toBe(accepted.length);
    const history = await balances(accountId);
    expect(Math.min(...history)).toBeGreaterThanOrEqual(0);
    const depositedAmounts = (await store.readStream(bankAccount.streamId(accountId)))
      .filter((event) => event.type === 'MoneyDeposited')
      .map((event) => (event.data as { amount: number }).amount);
    expect(depositedAmounts.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100]);
  });

  it('without retries the same race fails all but one with ConcurrencyError', async () => {
    const accountId = await accountWith(1_000);
    const commands = [...Array.from({ length: 20 }, () => withdraw(10)), ...Array.from({ length: 10 }, (_, i) => deposit(i + 1))];

    const results = await race(accountId, commands, { retries: 0 });

    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const result of results.filter((r) => r.status === 'rejected')) {
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(ConcurrencyError);
      expect((result as PromiseRejectedResult).reason).toMatchObject({ expected: 2, actual: 3 });
    }
    expect((await aggregateStream(store, bankAccount, accountId)).version).toBe(3);
  });
});

describe('one command id sent several times at once', () => {
  it.each([2, 8])('sent %i times, it appends once and every caller gets the same answer', async (copies) => {
    const accountId = await accountWith(100);
    const commandId = randomUUID();

    const results = await race(accountId, Array.from({ length: copies }, () => withdraw(30, commandId)), {});

    const answers = results.map((r) => {
      expect(r.status).toBe('fulfilled');
      return (r as PromiseFulfilledResult<unknown>).value;
    });
    for (const answer of answers) expect(answer).toEqual(answers[0]);
    expect(answers[0]).toMatchObject({ nextExpectedVersion: 3, state: { balance: 70 } });
    const replayed = await aggregateStream(store, bankAccount, accountId);
    expect(replayed).toMatchObject({ version: 3, state: { balance: 70 } });
  });
});
