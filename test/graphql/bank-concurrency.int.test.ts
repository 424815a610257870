import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { postGraphQL, type GraphQLAnswer } from '../server/support/http.js';
import { seed, seededRandom } from '../projections/examples/support/examples.js';
import { bankDocuments, bankService, type AccountResult } from './support/bank-service.js';
import { graphql } from './support/likes-service.js';

const bank = await bankService('gql_bank_race');

const newAccountId = () => `acc-${randomBytes(4).toString('hex')}`;

interface Move {
  kind: 'deposit' | 'withdraw';
  amount: number;
}

interface StatementPage {
  account: {
    balance: string;
    statement: { edges: { node: { version: number; kind: string; amount: string; balanceAfter: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
  };
}

describe(`many clients moving money on one account at once (SEED=${seed})`, () => {
  it('never overdraw it: the balance is the sum of the moves that succeeded, each answered with its own version and balance', { timeout: 180_000 }, async () => {
    const url = await bank.start();
    const accountId = newAccountId();
    await graphql(url, bankDocuments.openAccount, { accountId, owner: 'ada' });
    await graphql(url, bankDocuments.deposit, { accountId, amount: 1_000 });

    // 40 withdrawals of 45 (1,800) against 1,000 and 40 deposits of 10: at most 31 can
    // succeed, whatever the order the database puts them in.
    const random = seededRandom(seed);
    const moves: Move[] = [
      ...Array.from({ length: 40 }, (): Move => ({ kind: 'withdraw', amount: 45 })),
      ...Array.from({ length: 40 }, (): Move => ({ kind: 'deposit', amount: 10 })),
    ].sort(() => random.next() - 0.5);
    const workers = await bank.runWorkers();
    try {
      const answers = await Promise.all(moves.map((move) => graphql(url, bankDocuments[move.kind], { accountId, amount: move.amount })));

      const succeeded: (Move & AccountResult)[] = [];
      answers.forEach((answer, index) => {
        const move = moves[index]!;
        if (answer.errors === undefined) {
          succeeded.push({ ...move, ...(answer.data![move.kind] as AccountResult) });
          return;
        }
        // A withdrawal past the balance is refused; a write that lost the race more times
        // than handleCommand retries is retryable. Nothing else.
        const [error] = answer.errors;
        if (error!.extensions.code === 'ANNALS_CONCURRENCY') expect(error!.extensions.retryable).toBe(true);
        else expect([move.kind, error!.extensions.code]).toEqual(['withdraw', 'ACCOUNT_INSUFFICIENT_FUNDS']);
      });

      // The log holds exactly the moves that succeeded, each at the version it answered.
      const events = await bank.store.readStream(`account-${accountId}`);
      expect(events).toHaveLength(2 + succeeded.length);
      const byVersion = new Map(succeeded.map((move) => [move.version, move]));
      expect(byVersion.size).toBe(succeeded.length);
      let balance = 0;
      for (const event of events) {
        const amount = (event.data as { amount?: number }).amount ?? 0;
        balance += event.type === 'MoneyWithdrawn' ? -amount : amount;
        expect(balance).toBeGreaterThanOrEqual(0);
        const move = byVersion.get(event.version);
        if (event.version <= 2) continue;
        expect(move, `version ${event.version} answered`).toBeDefined();
        expect([event.type, amount, String(event.globalPosition), String(balance)]).toEqual([
          move!.kind === 'deposit' ? 'MoneyDeposited' : 'MoneyWithdrawn',
          move!.amount,
          move!.position,
          move!.balance,
        ]);
      }
      const sum = succeeded.reduce((total, move) => total + (move.kind === 'deposit' ? move.amount : -move.amount), 1_000);
      expect(balance).toBe(sum);
      expect(succeeded.filter((move) => move.kind === 'withdraw').length).toBeLessThanOrEqual(31);

      // Read with the newest position, while the workers run: the read models agree.
      const newest = succeeded.map((move) => BigInt(move.position)).reduce((a, b) => (a > b ? a : b), 0n);
      const lines: StatementPage['account']['statement']['edges'] = [];
      let after: string | null = null;
      let projected: string | undefined;
      do {
        const page: { body: GraphQLAnswer } = await postGraphQL(
          url,
          { query: bankDocuments.account, variables: { id: accountId, first: 100, after } },
          { 'annals-min-position': String(newest) },
        );
        expect(page.body.errors).toBeUndefined();
        const { account } = page.body.data as unknown as StatementPage;
        projected = account.balance;
        lines.push(...account.statement.edges);
        after = account.statement.pageInfo.hasNextPage ? account.statement.pageInfo.endCursor : null;
      } while (after !== null);
      expect(projected).toBe(String(sum));
      expect(lines).toHaveLength(1 + succeeded.length);
      expect(lines[0]!.node.balanceAfter).toBe(String(sum));
      for (const { node } of lines) expect(BigInt(node.balanceAfter)).toBeGreaterThanOrEqual(0n);
    } finally {
      await workers.stop();
    }
  });

  it('each of many clients reads its own account’s write at once with its position', { timeout: 120_000 }, async () => {
    const url = await bank.start();
    const workers = await bank.runWorkers();
    try {
      const clients = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const accountId = newAccountId();
          await graphql(url, bankDocuments.openAccount, { accountId, owner: `client-${i}` });
          const deposited = await graphql(url, bankDocuments.deposit, { accountId, amount: 100 + i });
          const { position } = deposited.data!.deposit as AccountResult;
          const read = await postGraphQL(url, { query: bankDocuments.account, variables: { id: accountId, first: 1 } }, { 'annals-min-position': position });
          return { i, accountId, read: read.body };
        }),
      );
      for (const { i, accountId, read } of clients) {
        expect(read.errors).toBeUndefined();
        expect(read.data).toMatchObject({
          account: { id: accountId, owner: `client-${i}`, balance: String(100 + i), statement: { edges: [{ node: { kind: 'deposit', balanceAfter: String(100 + i) } }] } },
        });
      }
    } finally {
      await workers.stop();
    }
  });
});
