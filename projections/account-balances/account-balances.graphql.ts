import { sql } from 'kysely';
import { ValidationError } from 'annals';
import { graphqlPart, readModel, type ReadContext } from 'annals/server';
import { accountBalances } from './account-balances.projection.js';

interface AccountBalanceRow {
  account_id: string;
  owner: string;
  status: 'open' | 'closed';
  /** bigint: pg hands it over as a string, which is what the API answers. */
  balance: string;
  version: number;
}

interface AccountBalancesTables {
  account_balances: AccountBalanceRow;
}

const readAccountBalances = readModel<AccountBalancesTables>(accountBalances);

/** An account as the schema's resolvers pass it on: `Account.statement` reads by `id`. */
export interface AccountNode {
  id: string;
  owner: string;
  status: 'open' | 'closed';
  balance: string;
}

/**
 * `account(id) { id owner status balance }` from `account_balances`: null for an
 * account nobody opened. `balance` is in minor units (cents) as a decimal string:
 * balances go up to 10^15 (the domain's maxBalance), past GraphQL's 32-bit Int and, as
 * a JSON number, past what some clients hold exactly; a string of digits is exact in
 * every client (`BigInt(balance)`), as the mutations' `position` is.
 *
 * @example
 * ```graphql
 * { account(id: "acc-1") { id owner status balance } }
 * ```
 */
export const accountBalancesGraphQL = graphqlPart({
  name: 'account-balances',
  typeDefs: `"""Whether an account takes deposits and withdrawals: closing is final."""
enum AccountStatus {
  open
  closed
}

"""A bank account, from the account-balances projection."""
type Account {
  id: ID!
  owner: String!
  status: AccountStatus!
  """In minor units (cents), as a decimal string: balances reach 10^15, past GraphQL's 32-bit Int. Never negative."""
  balance: String!
}

extend type Query {
  """The account, or null when nobody opened it."""
  account(id: ID!): Account
}`,
  loaders: {
    Query: {
      // A loader, not a resolver, though it is a root field: a request asking for several
      // accounts (`a: account(id: "1") { ... } b: account(id: "2") { ... }`) reads them in
      // one statement, and they resolve together, so their statements batch too.
      account: async (queries: readonly { params: { id: string } }[], context: ReadContext): Promise<(AccountNode | null | Error)[]> => {
        const ids = [...new Set(queries.map((query) => query.params.id).filter((id) => id !== ''))];
        const rows =
          ids.length === 0
            ? []
            : await readAccountBalances(context, (db) =>
                db
                  .selectFrom('account_balances')
                  .select(['account_id', 'owner', 'status', 'balance'])
                  // One array parameter, whatever the number of accounts: one statement text, one plan.
                  .where('account_id', '=', sql<string>`any(${ids}::text[])`)
                  .execute(),
              );
        const byId = new Map(rows.map((row) => [row.account_id, row]));
        return queries.map(({ params: { id } }) => {
          if (id === '') return new ValidationError([{ field: 'id', reason: 'must not be empty' }]);
          const row = byId.get(id);
          return row === undefined ? null : { id, owner: row.owner, status: row.status, balance: String(row.balance) };
        });
      },
    },
  },
});
