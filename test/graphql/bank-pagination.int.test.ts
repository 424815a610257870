import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { handleCommand } from '../../src/index.js';
import { bankAccount } from '../../domain/bank-account/bank-account.aggregate.js';
import { bankDocuments, bankService } from './support/bank-service.js';
import { graphql } from './support/likes-service.js';

const bank = await bankService('gql_bank_pages');

interface Line {
  version: number;
  kind: string;
  amount: string;
  balanceAfter: string;
}
interface Statement {
  edges: { cursor: string; node: Line }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

const newAccountId = () => `acc-${randomBytes(4).toString('hex')}`;

/** Opens an account with `moves` lines: deposits of 100, and every third move a withdrawal of 30. */
async function accountWith(moves: number): Promise<string> {
  const accountId = newAccountId();
  await handleCommand(bank.store, bankAccount, accountId, { type: 'OpenAccount', data: { accountId, owner: 'ada' } });
  for (let i = 1; i <= moves; i++) {
    const command = i % 3 === 0 ? { type: 'WithdrawMoney' as const, data: { amount: 30 } } : { type: 'DepositMoney' as const, data: { amount: 100 } };
    await handleCommand(bank.store, bankAccount, accountId, command);
  }
  return accountId;
}

async function statementPage(url: string, id: string, page: { first?: number; after?: string | null } = {}): Promise<Statement> {
  const answer = await graphql(url, bankDocuments.account, { id, ...page });
  expect(answer.errors).toBeUndefined();
  return (answer.data!.account as { statement: Statement }).statement;
}

let long: string;
beforeAll(async () => {
  long = await accountWith(25);
  await bank.catchUp();
});

describe('an account’s statement, a Relay connection', () => {
  it('pages through every line once, the latest first, each with the balance it left', async () => {
    const url = await bank.start();
    const pages: Statement[] = [];
    let after: string | null = null;
    do {
      const page: Statement = await statementPage(url, long, { first: 10, after });
      pages.push(page);
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
    } while (after !== null);
    expect(pages.map((page) => page.edges.length)).toEqual([10, 10, 5]);
    const lines = pages.flatMap((page) => page.edges.map((edge) => edge.node));
    // Versions 2 to 26 (1 is AccountOpened), newest first; the balances replayed by hand.
    expect(lines.map((line) => line.version)).toEqual(Array.from({ length: 25 }, (_, i) => 26 - i));
    let balance = 0;
    const expected = Array.from({ length: 25 }, (_, i) => {
      const withdrawal = (i + 1) % 3 === 0;
      balance += withdrawal ? -30 : 100;
      return { version: i + 2, kind: withdrawal ? 'withdrawal' : 'deposit', amount: withdrawal ? '30' : '100', balanceAfter: String(balance) };
    });
    expect(lines).toEqual(expected.reverse());
    expect(pages.at(-1)!.pageInfo).toEqual({ hasNextPage: false, endCursor: pages.at(-1)!.edges.at(-1)!.cursor });
  });

  it('gives 20 lines when asked for no number, and at most 100', async () => {
    const url = await bank.start();
    expect((await statementPage(url, long)).edges).toHaveLength(20);
    expect((await statementPage(url, long, { first: 100 })).edges).toHaveLength(25);
  });

  it('neither repeats nor hides a line when one is added between two pages', async () => {
    const url = await bank.start();
    const accountId = await accountWith(6);
    await bank.catchUp();
    const first = await statementPage(url, accountId, { first: 3 });
    expect(first.edges.map((edge) => edge.node.version)).toEqual([7, 6, 5]);
    await handleCommand(bank.store, bankAccount, accountId, { type: 'DepositMoney', data: { amount: 7 } });
    await bank.catchUp();
    const second = await statementPage(url, accountId, { first: 3, after: first.pageInfo.endCursor });
    expect(second.edges.map((edge) => edge.node.version)).toEqual([4, 3, 2]);
    expect(second.pageInfo.hasNextPage).toBe(false);
    expect((await statementPage(url, accountId, { first: 1 })).edges.map((edge) => edge.node)).toEqual([
      { version: 8, kind: 'deposit', amount: '7', balanceAfter: '347' },
    ]);
  });

  it('is empty for an account with no money moved', async () => {
    const url = await bank.start();
    const accountId = await accountWith(0);
    await bank.catchUp();
    expect(await statementPage(url, accountId)).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
  });

  it.each([
    [{ first: 0 }, 'first', 'must be from 1 to 100, not 0: read more with after'],
    [{ first: 101 }, 'first', 'must be from 1 to 100, not 101: read more with after'],
    [{ after: 'not a cursor!' }, 'after', 'is not a cursor of account.statement: pass the endCursor of the previous page'],
    // A cursor of another list (post.likedBy): well formed, but not this list's.
    [
      { after: Buffer.from(JSON.stringify(['post.likedBy', ['2024-03-30T10:00:00.000Z', 'ada']])).toString('base64url') },
      'after',
      'is not a cursor of account.statement: pass the endCursor of the previous page',
    ],
    [{ after: Buffer.from(JSON.stringify(['account.statement', -3])).toString('base64url') }, 'after', 'is not a cursor of account.statement: pass the endCursor of the previous page'],
  ])('refuses %j as BAD_USER_INPUT on %s', async (page, field, reason) => {
    const url = await bank.start();
    const answer = await graphql(url, bankDocuments.account, { id: long, ...page });
    expect(answer.errors).toEqual([
      expect.objectContaining({ path: ['account', 'statement'], extensions: { code: 'BAD_USER_INPUT', issues: [{ field, reason }] } }),
    ]);
    expect(answer.data).toEqual({ account: null });
  });
});

describe('statements of several accounts in one request', () => {
  it('are one read of each table, and a bad cursor fails only its own account', async () => {
    const url = await bank.start();
    const [a, b, c] = [await accountWith(4), await accountWith(2), await accountWith(0)];
    await bank.catchUp();
    const query = `query ($a: ID!, $b: ID!, $c: ID!, $after: String) {
      a: account(id: $a) { statement(first: 2) { edges { node { version } } pageInfo { hasNextPage } } }
      b: account(id: $b) { statement(first: 2) { edges { node { version } } pageInfo { hasNextPage } } }
      c: account(id: $c) { statement(first: 2) { edges { node { version } } pageInfo { hasNextPage } } }
      d: account(id: $a) { statement(first: 2, after: $after) { edges { node { version } } } }
    }`;
    let answer: Awaited<ReturnType<typeof graphql>> | undefined;
    const statements = await bank.statements.during(async () => {
      answer = await graphql(url, query, { a, b, c, after: 'garbage' });
    });
    expect(answer!.data).toEqual({
      a: { statement: { edges: [{ node: { version: 5 } }, { node: { version: 4 } }], pageInfo: { hasNextPage: true } } },
      b: { statement: { edges: [{ node: { version: 3 } }, { node: { version: 2 } }], pageInfo: { hasNextPage: false } } },
      c: { statement: { edges: [], pageInfo: { hasNextPage: false } } },
      d: null,
    });
    expect(answer!.errors).toEqual([expect.objectContaining({ path: ['d', 'statement'], extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }) })]);
    // One statement for the three pages; the bad cursor never reached the database.
    expect(statements.filter((text) => text.includes('"account_statements"'))).toHaveLength(1);
    // And one for the accounts themselves: `account` is a loader too.
    expect(statements.filter((text) => text.includes('"account_balances"'))).toHaveLength(1);
  });
});
