import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { maxAmount, maxBalance } from '../../domain/bank-account/bank-account.events.js';
import { postGraphQL } from '../server/support/http.js';
import { bankDocuments, bankService, type AccountResult } from './support/bank-service.js';
import { graphql } from './support/likes-service.js';

const bank = await bankService('gql_bank');

/** An account id of the test's own. */
const newAccountId = () => `acc-${randomBytes(4).toString('hex')}`;
const int32Max = 2 ** 31 - 1;

async function open(url: string, owner = 'ada'): Promise<string> {
  const accountId = newAccountId();
  const answer = await graphql(url, bankDocuments.openAccount, { accountId, owner });
  expect(answer.errors).toBeUndefined();
  return accountId;
}

async function move(url: string, kind: 'deposit' | 'withdraw', accountId: string, amount: number): Promise<AccountResult> {
  const answer = await graphql(url, bankDocuments[kind], { accountId, amount });
  expect(answer.errors).toBeUndefined();
  return answer.data![kind] as AccountResult;
}

describe('the bank mutations over HTTP', () => {
  it('open an account: AccountOpened appended, the stream, its version, the position of the event and the balance', async () => {
    const url = await bank.start();
    const accountId = newAccountId();
    const answer = await graphql(url, bankDocuments.openAccount, { accountId, owner: '  ada  ' });
    const [event] = await bank.store.readStream(`account-${accountId}`);
    expect(answer.data).toEqual({ openAccount: { streamId: `account-${accountId}`, version: 1, position: String(event!.globalPosition), balance: '0' } });
    // The command's schema trims the owner: the mutation is that schema, not a copy of it.
    expect(event).toMatchObject({ type: 'AccountOpened', data: { accountId, owner: 'ada' } });
  });

  it('deposit and withdraw answer the balance the aggregate decided, and the account reads it once projected', async () => {
    const url = await bank.start();
    const accountId = await open(url);
    expect(await move(url, 'deposit', accountId, 500)).toMatchObject({ version: 2, balance: '500' });
    expect(await move(url, 'withdraw', accountId, 120)).toMatchObject({ version: 3, balance: '380' });
    expect((await bank.store.readStream(`account-${accountId}`)).map((event) => [event.type, event.data])).toEqual([
      ['AccountOpened', { accountId, owner: 'ada' }],
      ['MoneyDeposited', { amount: 500 }],
      ['MoneyWithdrawn', { amount: 120 }],
    ]);
    await bank.catchUp();
    const answer = await graphql(url, bankDocuments.account, { id: accountId });
    expect(answer.errors).toBeUndefined();
    expect(answer.data).toEqual({
      account: {
        id: accountId,
        owner: 'ada',
        status: 'open',
        balance: '380',
        statement: {
          edges: [
            { cursor: expect.any(String), node: { version: 3, kind: 'withdrawal', amount: '120', balanceAfter: '380' } },
            { cursor: expect.any(String), node: { version: 2, kind: 'deposit', amount: '500', balanceAfter: '500' } },
          ],
          pageInfo: { hasNextPage: false, endCursor: expect.any(String) },
        },
      },
    });
  });

  it('answer a query sent with the mutation’s position from read models that include it, with workers running', { timeout: 120_000 }, async () => {
    const url = await bank.start();
    const workers = await bank.runWorkers();
    try {
      const accountId = await open(url, 'grace');
      await move(url, 'deposit', accountId, 1_000);
      const { position } = await move(url, 'withdraw', accountId, 250);
      const answer = await postGraphQL(url, { query: bankDocuments.account, variables: { id: accountId, first: 1 } }, { 'annals-min-position': position });
      expect(answer.body.errors).toBeUndefined();
      expect(answer.body.data).toMatchObject({
        account: {
          balance: '750',
          statement: { edges: [{ node: { version: 3, kind: 'withdrawal', amount: '250', balanceAfter: '750' } }], pageInfo: { hasNextPage: true } },
        },
      });
    } finally {
      await workers.stop();
    }
  });

  it('answer null for an account nobody opened', async () => {
    const url = await bank.start();
    await bank.catchUp();
    expect((await graphql(url, bankDocuments.account, { id: newAccountId() })).data).toEqual({ account: null });
  });

  it('close an account with nothing left on it; it stays readable as closed', async () => {
    const url = await bank.start();
    const accountId = await open(url);
    await move(url, 'deposit', accountId, 40);
    await move(url, 'withdraw', accountId, 40);
    const closed = await graphql(url, bankDocuments.closeAccount, { accountId });
    expect(closed.data).toEqual({ closeAccount: { version: 4, balance: '0' } });
    await bank.catchUp();
    expect((await graphql(url, bankDocuments.account, { id: accountId, first: 1 })).data).toMatchObject({ account: { status: 'closed', balance: '0' } });
  });
});

describe('domain errors keep their codes, on the mutation that failed, and append nothing', () => {
  it.each([
    ['withdraw more than the balance', 'withdraw', { amount: 101 }, 'ACCOUNT_INSUFFICIENT_FUNDS', 'balance 100 is less than 101', { balance: 100, amount: 101 }],
    ['open it again', 'openAccount', { owner: 'eve' }, 'ACCOUNT_ALREADY_OPEN', expect.stringContaining('is already open'), expect.any(Object)],
    ['close it with money on it', 'closeAccount', {}, 'ACCOUNT_BALANCE_NOT_ZERO', 'the balance is 100; withdraw it before closing', { balance: 100 }],
  ] as const)('%s', async (_name, mutation, variables, code, message, details) => {
    const url = await bank.start();
    const accountId = await open(url);
    await move(url, 'deposit', accountId, 100);
    const answer = await graphql(url, bankDocuments[mutation], { accountId, ...variables });
    expect(answer.status).toBe(200);
    expect(answer.data).toBeNull();
    expect(answer.errors).toEqual([expect.objectContaining({ message, path: [mutation], extensions: { code, details } })]);
    expect(await bank.store.readStream(`account-${accountId}`)).toHaveLength(2);
  });

  it('money cannot move in an account nobody opened, or one that was closed', async () => {
    const url = await bank.start();
    const unopened = await graphql(url, bankDocuments.deposit, { accountId: newAccountId(), amount: 5 });
    expect(unopened.errors).toEqual([expect.objectContaining({ path: ['deposit'], extensions: { code: 'ACCOUNT_NOT_OPEN' } })]);
    const accountId = await open(url);
    await graphql(url, bankDocuments.closeAccount, { accountId });
    for (const kind of ['deposit', 'withdraw'] as const) {
      const answer = await graphql(url, bankDocuments[kind], { accountId, amount: 5 });
      expect(answer.errors).toEqual([expect.objectContaining({ path: [kind], extensions: { code: 'ACCOUNT_CLOSED', details: { accountId } } })]);
    }
  });
});

describe('amounts and balances beyond 32 bits', () => {
  it('takes an amount up to 2^31 - 1, and answers balances past it exactly, as decimal strings', async () => {
    const url = await bank.start();
    const accountId = await open(url);
    await move(url, 'deposit', accountId, int32Max);
    expect(await move(url, 'deposit', accountId, int32Max)).toMatchObject({ balance: String(2 * int32Max) });
    await bank.catchUp();
    const answer = await graphql(url, bankDocuments.account, { id: accountId, first: 1 });
    expect(answer.data).toMatchObject({
      account: { balance: '4294967294', statement: { edges: [{ node: { amount: '2147483647', balanceAfter: '4294967294' } }] } },
    });
  });

  it('refuses an amount past 2^31 - 1 before anything runs: BAD_USER_INPUT naming amount as a variable, a validation error in the query', async () => {
    const url = await bank.start();
    const accountId = await open(url);
    const variable = await graphql(url, bankDocuments.deposit, { accountId, amount: int32Max + 1 });
    expect(variable.status).toBe(400);
    expect(variable.errors).toEqual([
      expect.objectContaining({
        message: 'Variable "$amount" got invalid value 2147483648; Int cannot represent non 32-bit signed integer value: 2147483648',
        extensions: { code: 'BAD_USER_INPUT', issues: [{ field: 'amount', reason: 'Int cannot represent non 32-bit signed integer value: 2147483648' }] },
      }),
    ]);
    const inline = await graphql(url, `mutation { deposit(accountId: "${accountId}", amount: 2147483648) { balance } }`);
    expect(inline.status).toBe(400);
    expect(inline.errors).toEqual([
      expect.objectContaining({ message: 'Int cannot represent non 32-bit signed integer value: 2147483648', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }),
    ]);
    const fraction = await graphql(url, bankDocuments.withdraw, { accountId, amount: 1.5 });
    expect(fraction.status).toBe(400);
    expect(await bank.store.readStream(`account-${accountId}`)).toHaveLength(1);
  });

  it('holds balances up to the domain’s limit of 10^15 exactly, and refuses a deposit past it with its code', async () => {
    const url = await bank.start();
    const accountId = await open(url);
    // The largest moves the domain takes, appended as its aggregate would record them:
    // 10^12 a deposit is past what one mutation may move.
    const deposits = maxBalance / maxAmount;
    await bank.store.appendToStream(
      `account-${accountId}`,
      Array.from({ length: deposits }, () => ({ type: 'MoneyDeposited', data: { amount: maxAmount } })),
      { expectedVersion: 1 },
    );
    const refused = await graphql(url, bankDocuments.deposit, { accountId, amount: 1 });
    expect(refused.errors).toEqual([
      expect.objectContaining({ path: ['deposit'], extensions: { code: 'ACCOUNT_BALANCE_LIMIT_EXCEEDED', details: { balance: maxBalance, amount: 1, limit: maxBalance } } }),
    ]);
    expect(await move(url, 'withdraw', accountId, 1)).toMatchObject({ version: deposits + 2, balance: '999999999999999' });
    await bank.catchUp();
    const answer = await graphql(url, bankDocuments.account, { id: accountId, first: 2 });
    expect(answer.data).toMatchObject({
      account: {
        balance: '999999999999999',
        statement: {
          edges: [
            { node: { kind: 'withdrawal', amount: '1', balanceAfter: '999999999999999' } },
            { node: { kind: 'deposit', amount: '1000000000000', balanceAfter: '1000000000000000' } },
          ],
        },
      },
    });
  });
});

describe('bad input is BAD_USER_INPUT naming the argument, and appends nothing', () => {
  it.each([
    ['deposit', { amount: 0 }, 'amount', 'Too small: expected number to be >0'],
    ['withdraw', { amount: -5 }, 'amount', 'Too small: expected number to be >0'],
    ['openAccount', { owner: '   ' }, 'owner', 'Too small: expected string to have >=1 characters'],
    ['openAccount', { owner: 'x'.repeat(201) }, 'owner', 'Too big: expected string to have <=200 characters'],
  ] as const)('%s with %j', async (mutation, variables, field, reason) => {
    const url = await bank.start();
    const accountId = mutation === 'openAccount' ? newAccountId() : await open(url);
    const before = (await bank.store.readStream(`account-${accountId}`)).length;
    const answer = await graphql(url, bankDocuments[mutation], { accountId, ...variables });
    expect(answer.status).toBe(200);
    expect(answer.errors).toEqual([expect.objectContaining({ path: [mutation], extensions: { code: 'BAD_USER_INPUT', issues: [{ field, reason }] } })]);
    expect(await bank.store.readStream(`account-${accountId}`)).toHaveLength(before);
  });

  it('an empty or too long account id is named, whichever mutation carries it', async () => {
    const url = await bank.start();
    const empty = await graphql(url, bankDocuments.deposit, { accountId: '', amount: 5 });
    expect(empty.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', issues: [{ field: 'accountId', reason: 'must not be empty' }] });
    const long = await graphql(url, bankDocuments.openAccount, { accountId: 'x'.repeat(101), owner: 'ada' });
    expect(long.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', issues: [{ field: 'accountId', reason: 'Too big: expected string to have <=100 characters' }] });
    const query = await graphql(url, bankDocuments.account, { id: '' });
    expect(query.errors).toEqual([expect.objectContaining({ path: ['account'], extensions: { code: 'BAD_USER_INPUT', issues: [{ field: 'id', reason: 'must not be empty' }] } })]);
  });

  it('a missing amount is refused by GraphQL, naming the argument', async () => {
    const url = await bank.start();
    const answer = await graphql(url, `mutation { deposit(accountId: "a") { balance } }`);
    expect(answer.status).toBe(400);
    expect(answer.errors?.[0]).toMatchObject({
      message: 'Field "deposit" argument "amount" of type "Int!" is required, but it was not provided.',
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
  });
});
