import { sql } from 'kysely';
import { z } from 'zod';
import { connectionLoader, connectionTypeDefs, defineConnection, graphqlPart, readModel, type ReadContext } from 'annals/server';
import { accountStatements } from './account-statements.projection.js';

interface StatementRow {
  account_id: string;
  version: number;
  kind: 'deposit' | 'withdrawal';
  /** bigint columns: pg hands them over as strings. */
  amount: string;
  balance_after: string;
  recorded_at: Date;
}

interface AccountStatementsTables {
  account_statements: StatementRow;
}

const readStatements = readModel<AccountStatementsTables>(accountStatements);

/** The latest line first. A line's stream version is unique within its account: the whole key. */
const statementList = defineConnection({
  name: 'account.statement',
  key: z.number().int().positive(),
  keyOf: (row: StatementRow) => row.version,
});

/**
 * `account(id) { statement(first, after) }` from `account_statements`: the account's
 * deposits and withdrawals, the latest first, each with the balance it left; a Relay
 * connection (at most 100 lines a page) read by the account stream's version, so a page
 * deep in a long statement costs what the first does (the table's primary key is
 * `(account_id, version)`). A loader: the statements of several accounts in one request
 * (`a: account(id: "1") { statement } b: account(id: "2") { statement }`) are one
 * statement to the database.
 *
 * Amounts and balances are minor units (cents) as decimal strings, as `Account.balance`.
 *
 * @example
 * ```graphql
 * { account(id: "acc-1") { statement(first: 10) { edges { node { kind amount balanceAfter recordedAt } } pageInfo { hasNextPage endCursor } } } }
 * ```
 */
export const accountStatementsGraphQL = graphqlPart({
  name: 'account-statements',
  typeDefs: `"""What moved the money."""
enum StatementLineKind {
  deposit
  withdrawal
}

"""One deposit or withdrawal, with the balance it left."""
type StatementLine {
  """The account stream's version of the event: lines are numbered in the account's order (not densely: opening and closing take versions too)."""
  version: Int!
  kind: StatementLineKind!
  """In minor units (cents), as a decimal string; always positive (kind says which way)."""
  amount: String!
  """The balance after this line, in minor units (cents), as a decimal string."""
  balanceAfter: String!
  """When the event was recorded (ISO 8601, UTC)."""
  recordedAt: String!
}

extend type Account {
  """The account's deposits and withdrawals, the latest first."""
  statement(first: Int, after: String): StatementLineConnection!
}

${connectionTypeDefs('StatementLine')}`,
  loaders: {
    Account: {
      statement: connectionLoader({
        connection: statementList,
        parentId: (account: { id: string }) => account.id,
        rowParent: (row) => row.account_id,
        read: (accountIds, page, context: ReadContext) =>
          readStatements(context, (db) =>
            db
              // The ids as a table to join from: kysely has no unnest of a parameter array.
              .selectFrom(db.selectNoFrom(sql<string>`unnest(${accountIds}::text[])`.as('id')).as('ids'))
              .innerJoinLateral(
                (eb) =>
                  eb
                    .selectFrom('account_statements')
                    .selectAll()
                    .whereRef('account_id', '=', 'ids.id')
                    .$if(page.after !== undefined, (query) => query.where('version', '<', page.after!))
                    .orderBy('version', 'desc')
                    .limit(page.limit)
                    .as('page'),
                (join) => join.onTrue(),
              )
              .selectAll('page')
              .orderBy('ids.id')
              .orderBy('page.version', 'desc')
              .execute(),
          ),
        node: (row) => ({
          version: row.version,
          kind: row.kind,
          amount: String(row.amount),
          balanceAfter: String(row.balance_after),
          recordedAt: row.recorded_at.toISOString(),
        }),
      }),
    },
  },
});
