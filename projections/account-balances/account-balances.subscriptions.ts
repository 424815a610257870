import { sql, type Kysely } from 'kysely';
import { z } from 'zod';
import { projectionSubscription } from 'annals/server';
import { accountBalances, accountIdOf } from './account-balances.projection.js';

interface AccountBalancesTables {
  account_balances: { account_id: string; owner: string; status: 'open' | 'closed'; balance: string; version: number };
}

/**
 * `accountBalance(accountId, after)`: the account's balance and status each time the
 * account-balances projection has applied a change to it (a deposit, a withdrawal, the
 * close), with the position of that change. Nothing is pushed for an account nobody
 * opened, until it is opened. `balance` is in minor units (cents) as a decimal string,
 * as `account { balance }` answers it.
 *
 * @example
 * ```graphql
 * subscription { accountBalance(accountId: "acc-1") { balance status position } }
 * ```
 */
export const accountBalancesSubscriptions = projectionSubscription({
  name: 'account-balances-subscriptions',
  typeDefs: `"""An account's balance and status, as of a position of the log."""
type AccountBalanceUpdate {
  accountId: ID!
  owner: String!
  """open, or closed (closing is final)."""
  status: String!
  """In minor units (cents), as a decimal string: balances reach 10^15, past GraphQL's 32-bit Int."""
  balance: String!
  """The global position the balance is as of, as a string: send it as after when reconnecting."""
  position: String!
}

extend type Subscription {
  """The account's balance after each change (the balance now first, unless after is given)."""
  accountBalance(accountId: ID!, after: String): AccountBalanceUpdate!
}`,
  field: 'accountBalance',
  projection: accountBalances,
  args: z.object({ accountId: z.string().min(1, { error: 'must not be empty' }) }),
  key: (args) => args.accountId,
  keyOf: (event) => accountIdOf(event.streamId),
  read: (db: Kysely<AccountBalancesTables>, keys) =>
    db
      .selectFrom('account_balances')
      .select(['account_id', 'owner', 'status', 'balance'])
      .where('account_id', '=', sql<string>`any(${[...keys]}::text[])`)
      .execute(),
  rowKey: (row) => row.account_id,
  payload: ({ key, row, position }) =>
    row === undefined ? undefined : { accountId: key, owner: row.owner, status: row.status, balance: String(row.balance), position },
});
