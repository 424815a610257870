import { randomUUID } from 'node:crypto';
import {
  ConcurrencyError,
  DomainError,
  handleCommand,
  loadAggregate,
  ValidationError,
  type EventStore,
  type EventStoreSession,
} from 'annals';
import { beforeAll, describe, expect, it } from 'vitest';
import { bankAccount } from '../../domain/bank-account/index.js';
import { postLikes } from '../../domain/likes/likes.aggregate.js';
import { createTestStore } from '../setup/database.js';
import { tally } from '../support/tally.js';
import { rowCounts, wrapSession } from './support/sessions.js';

// At the top level: the helper registers the file's clean-up hooks.
const store: EventStore = await createTestStore('handle_command');

/** An open account holding `balance`, with its id. */
async function accountWith(balance: number, session: EventStoreSession = store): Promise<string> {
  const id = randomUUID();
  await handleCommand(session, bankAccount, id, { type: 'OpenAccount', data: { accountId: id, owner: 'ada' } });
  if (balance > 0) await handleCommand(session, bankAccount, id, { type: 'DepositMoney', data: { amount: balance } });
  return id;
}

const deposit = { type: 'DepositMoney', data: { amount: 5 } } as const;

describe('bad input is a ValidationError naming the field, and nothing is written', () => {
  // [case, command, options, field]
  const cases: [string, unknown, unknown, string][] = [
    ['an unknown command type', { type: 'Teleport', data: {} }, {}, 'command.type'],
    ['a command type that is not a string', { type: 42, data: {} }, {}, 'command.type'],
    ['a negative amount', { type: 'DepositMoney', data: { amount: -5 } }, {}, 'command.data.amount'],
    ['a fractional amount', { type: 'DepositMoney', data: { amount: 1.5 } }, {}, 'command.data.amount'],
    ['an amount given as a string', { type: 'DepositMoney', data: { amount: '5' } }, {}, 'command.data.amount'],
    ['missing data', { type: 'DepositMoney' }, {}, 'command.data'],
    ['an empty command id', { ...deposit, id: '' }, {}, 'command.id'],
    ['an over-long command id', { ...deposit, id: 'x'.repeat(256) }, {}, 'command.id'],
    ['command metadata that is not an object', { ...deposit, metadata: 'ada' }, {}, 'command.metadata'],
    ['a command that is not an object', null, {}, 'command'],
    ['negative retries', deposit, { retries: -1 }, 'options.retries'],
    ['fractional retries', deposit, { retries: 2.5 }, 'options.retries'],
    ['too many retries', deposit, { retries: 101 }, 'options.retries'],
    ['a retry delay whose min is above its max', deposit, { retryDelay: { min: 10, max: 1 } }, 'options.retryDelay'],
    ['an empty correlation id', deposit, { correlationId: '' }, 'options.correlationId'],
    ['option metadata that is not an object', deposit, { metadata: ['ada'] }, 'options.metadata'],
  ];

  it.each(cases)('%s', async (_case, command, options, field) => {
    const id = await accountWith(100);
    const before = await rowCounts(store);
    const error = await handleCommand(store, bankAccount, id, command as never, options as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe(field);
    expect(await rowCounts(store)).toEqual(before);
  });
});

describe('a broken rule reaches the caller unchanged, is not retried, and writes nothing', () => {
  const cases: [string, () => Promise<string>, object, string][] = [
    ['open twice', () => accountWith(0), { type: 'OpenAccount', data: { accountId: 'a', owner: 'bob' } }, 'ACCOUNT_ALREADY_OPEN'],
    ['deposit before opening', async () => randomUUID(), deposit, 'ACCOUNT_NOT_OPEN'],
    ['overdraw', () => accountWith(100), { type: 'WithdrawMoney', data: { amount: 101 } }, 'ACCOUNT_INSUFFICIENT_FUNDS'],
    ['close with money left', () => accountWith(1), { type: 'CloseAccount', data: {} }, 'ACCOUNT_BALANCE_NOT_ZERO'],
    [
      'deposit into a closed account',
      async () => {
        const id = await accountWith(0);
        await handleCommand(store, bankAccount, id, { type: 'CloseAccount', data: {} });
        return id;
      },
      deposit,
      'ACCOUNT_CLOSED',
    ],
  ];

  it.each(cases)('%s', async (_case, given, command, code) => {
    const id = await given();
    const before = await rowCounts(store);
    let appends = 0;
    const session = wrapSession(store, {
      appendToStream: (...args) => {
        appends++;
        return store.appendToStream(...args);
      },
    });
    const error = await handleCommand(session, bankAccount, id, command as never, { retries: 5 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe(code);
    expect(appends).toBe(0);
    expect(await rowCounts(store)).toEqual(before);
  });
});

describe('a command id makes a command idempotent', () => {
  it('a LikePost retried after other users liked the post returns the original answer and appends nothing', async () => {
    const post = randomUUID();
    const like = (userId: string, id?: string) =>
      handleCommand(store, postLikes, post, { type: 'LikePost', data: { postId: post, userId }, ...(id ? { id } : {}) });
    const first = await like('ada', 'request-1');
    await like('bob');
    await like('carol');

    const retried = await like('ada', 'request-1');

    expect(retried.events).toEqual(first.events);
    expect(retried.nextExpectedVersion).toBe(1);
    expect(retried.globalPosition).toBe(first.globalPosition);
    expect((await store.readStream(postLikes.streamId(post))).map((e) => e.id)).toHaveLength(3);
  });

  it('a retried command whose events would now differ still returns the original answer', async () => {
    const id = randomUUID();
    const first = await handleCommand(store, tally, id, { type: 'Count', data: { times: 2 }, id: 'request-1' });
    await handleCommand(store, tally, id, { type: 'Count', data: { times: 1 } });

    const retried = await handleCommand(store, tally, id, { type: 'Count', data: { times: 2 }, id: 'request-1' });

    expect(retried.events).toEqual(first.events);
    expect(retried.events.map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }]);
    expect((await loadAggregate(store, tally, id)).version).toBe(3);
  });

  it('a command id reused for a different command is refused, and nothing is appended', async () => {
    const id = await accountWith(0);
    await handleCommand(store, bankAccount, id, { type: 'DepositMoney', data: { amount: 100 }, id: 'request-7' });

    await expect(
      handleCommand(store, bankAccount, id, { type: 'DepositMoney', data: { amount: 50 }, id: 'request-7' }),
    ).rejects.toMatchObject({ code: 'ANNALS_IDEMPOTENCY_CONFLICT', reason: expect.stringContaining("'request-7'") });
    expect((await loadAggregate(store, bankAccount, id)).state).toMatchObject({ balance: 100 });
  });

  // A retried command that decides the same events again (a deposit, an unlike after a
  // re-like): the store recognizes the event ids and answers with the earlier append;
  // the events must not be applied to the current state a second time.
  it('a retried deposit answers with the true state, not one with the deposit counted twice', async () => {
    const id = await accountWith(0);
    const first = await handleCommand(store, bankAccount, id, { type: 'DepositMoney', data: { amount: 100 }, id: 'request-1' });
    await handleCommand(store, bankAccount, id, { type: 'WithdrawMoney', data: { amount: 30 } });

    const retried = await handleCommand(store, bankAccount, id, { type: 'DepositMoney', data: { amount: 100 }, id: 'request-1' });

    expect(retried.events).toEqual(first.events);
    expect((await loadAggregate(store, bankAccount, id)).state.balance).toBe(70); // nothing appended twice...
    expect(retried.state.balance).toBe(70); // ...but the answer says 170
    expect(retried.nextExpectedVersion).toBe(first.nextExpectedVersion);
  });

  it('a retried UnlikePost, after the user liked the post again, does not report the like as gone', async () => {
    const post = randomUUID();
    const send = (type: 'LikePost' | 'UnlikePost', id: string) =>
      handleCommand(store, postLikes, post, { type, data: { postId: post, userId: 'ada' }, id });
    await send('LikePost', 'request-1');
    await send('UnlikePost', 'request-2');
    await send('LikePost', 'request-3');

    const retried = await send('UnlikePost', 'request-2');

    expect((await loadAggregate(store, postLikes, post)).state.likedBy).toEqual(['ada']);
    expect(retried.state.likedBy).toEqual(['ada']); // the answer says []
  });
});

describe('correlation and causation', () => {
  // The command fingerprint (commandHash) is checked by the reuse test above; here the rest.
  const metadataOf = async (id: string) =>
    (await store.readStream(tally.streamId(id))).map(({ metadata: { commandHash, ...rest } }) => {
      if (rest.commandId !== undefined) expect(commandHash).toMatch(/^[\w-]{27}$/);
      return rest;
    });

  it('stamps every event with the command id as causation, the correlation id and the caller’s metadata', async () => {
    const id = randomUUID();
    await handleCommand(
      store,
      tally,
      id,
      { type: 'Count', data: { times: 3 }, id: 'command-7', metadata: { userId: 'ada' } },
      { correlationId: 'checkout-42', metadata: { tenant: 'acme' } },
    );
    const expected = { causationId: 'command-7', commandId: 'command-7', correlationId: 'checkout-42', userId: 'ada', tenant: 'acme' };
    expect(await metadataOf(id)).toEqual([expected, expected, expected]);
  });

  it('without a correlation id, the command’s metadata or else its id correlates', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    await handleCommand(store, tally, a, { type: 'Count', data: { times: 1 }, id: 'command-8', metadata: { correlationId: 'from-client' } });
    await handleCommand(store, tally, b, { type: 'Count', data: { times: 1 }, id: 'command-9' });
    expect(await metadataOf(a)).toEqual([{ causationId: 'command-8', commandId: 'command-8', correlationId: 'from-client' }]);
    expect(await metadataOf(b)).toEqual([{ causationId: 'command-9', commandId: 'command-9', correlationId: 'command-9' }]);
  });

  it('an explicit causation id wins, for commands caused by an event', async () => {
    const id = randomUUID();
    await handleCommand(store, tally, id, { type: 'Count', data: { times: 1 }, id: 'command-10' }, { causationId: 'event-3' });
    expect(await metadataOf(id)).toEqual([{ causationId: 'event-3', commandId: 'command-10', correlationId: 'event-3' }]);
  });

  it('without a command id, one fresh causation id is shared by the events of one command only', async () => {
    const id = randomUUID();
    await handleCommand(store, tally, id, { type: 'Count', data: { times: 2 } });
    await handleCommand(store, tally, id, { type: 'Count', data: { times: 1 } });
    const [first, second, third] = await metadataOf(id);
    expect(first!.causationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(second).toEqual(first);
    expect(first).toEqual({ causationId: first!.causationId, correlationId: first!.causationId });
    expect(third!.causationId).not.toBe(first!.causationId);
  });
});

describe('inside store.withTransaction', () => {
  const ledger = () => `"${store.schema}".ledger`;
  beforeAll(() => store.withTransaction((tx) => tx.query(`CREATE TABLE ${ledger()} (account_id text, amount integer)`)));
  const ledgerRows = (id: string) =>
    store.withTransaction((tx) => tx.query<{ amount: number }>(`SELECT amount FROM ${ledger()} WHERE account_id = $1`, [id]));

  it('the command and the caller’s own write commit together', async () => {
    const id = await accountWith(0);
    await store.withTransaction(async (tx) => {
      await handleCommand(tx, bankAccount, id, { type: 'DepositMoney', data: { amount: 40 } });
      // Later commands in the transaction see the earlier ones: this withdrawal needs that deposit.
      await handleCommand(tx, bankAccount, id, { type: 'WithdrawMoney', data: { amount: 15 } });
      await tx.query(`INSERT INTO ${ledger()} VALUES ($1, 25)`, [id]);
    });
    expect((await loadAggregate(store, bankAccount, id)).state.balance).toBe(25);
    expect(await ledgerRows(id)).toEqual([{ amount: 25 }]);
  });

  it('and roll back together when the work throws', async () => {
    const id = await accountWith(10);
    const before = await rowCounts(store);
    const failed = store.withTransaction(async (tx) => {
      await handleCommand(tx, bankAccount, id, { type: 'DepositMoney', data: { amount: 40 } });
      await tx.query(`INSERT INTO ${ledger()} VALUES ($1, 40)`, [id]);
      throw new Error('payment provider unreachable');
    });
    await expect(failed).rejects.toThrow('payment provider unreachable');
    expect(await loadAggregate(store, bankAccount, id)).toMatchObject({ version: 2, state: { balance: 10 } });
    expect(await ledgerRows(id)).toEqual([]);
    expect(await rowCounts(store)).toEqual(before);
  });
});

describe('when retries run out, the ConcurrencyError reaches the caller', () => {
  /** The store, except that every append loses a race. */
  function alwaysLosing() {
    const attempts = { count: 0 };
    const session = wrapSession(store, {
      appendToStream: async (streamId, _events, options) => {
        attempts.count++;
        throw new ConcurrencyError(streamId, options?.expectedVersion ?? 'any', 99);
      },
    });
    return { session, attempts };
  }

  it.each([
    [{ retries: 0 }, 1],
    [{ retries: 3 }, 4],
    [{}, 11], // the default: 10 retries
  ])('with options %o, after %i attempts', async (options, attempts) => {
    const id = await accountWith(0);
    const before = await rowCounts(store);
    const losing = alwaysLosing();
    const error = await handleCommand(losing.session, bankAccount, id, deposit, { ...options, retryDelay: { min: 0, max: 0 } }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConcurrencyError);
    expect(error).toMatchObject({ streamId: bankAccount.streamId(id), expected: 1 });
    expect(losing.attempts.count).toBe(attempts);
    expect(await rowCounts(store)).toEqual(before);
  });
});
