import { commandMutations, graphqlPart, type MutationOutcome } from 'annals/server';
import { bankAccount } from './bank-account.aggregate.js';

/** What every bank mutation returns: CommandResult's fields, and the balance the command left. */
const accountResultTypeDefs = `"""What a bank mutation did: CommandResult's fields, and the account's balance after it."""
type AccountCommandResult {
  streamId: ID!
  version: Int!
  """Global position of the mutation's last event, as a string: the consistency token to read your writes with."""
  position: String!
  """The balance the command left, in minor units (cents), as a decimal string: balances reach 10^15, past GraphQL's 32-bit Int."""
  balance: String!
}`;

const mutations = commandMutations(bankAccount, {
  OpenAccount: {
    name: 'openAccount',
    aggregateId: 'accountId',
    description: 'Opens the account for its owner (ACCOUNT_ALREADY_OPEN when it is open; ACCOUNT_CLOSED once it was closed).',
    returns: 'AccountCommandResult',
  },
  DepositMoney: {
    name: 'deposit',
    aggregateId: 'accountId',
    // The domain takes up to 10^12 cents in one move; GraphQL's Int ends at 2^31 - 1.
    // Int, not Float: a fraction of a cent is never an amount. Larger moves take several
    // mutations; GraphQL refuses a larger value before anything runs.
    scalars: { amount: 'Int' },
    description:
      'Adds amount (minor units, 1 to 2147483647) to an open account (ACCOUNT_NOT_OPEN, ACCOUNT_CLOSED, ACCOUNT_BALANCE_LIMIT_EXCEEDED past 10^15).',
    returns: 'AccountCommandResult',
  },
  WithdrawMoney: {
    name: 'withdraw',
    aggregateId: 'accountId',
    scalars: { amount: 'Int' },
    description: 'Takes amount (minor units, 1 to 2147483647) out of an open account; never below zero (ACCOUNT_INSUFFICIENT_FUNDS).',
    returns: 'AccountCommandResult',
  },
  CloseAccount: {
    name: 'closeAccount',
    aggregateId: 'accountId',
    description: 'Closes the account, for good; its balance must be zero (ACCOUNT_BALANCE_NOT_ZERO).',
    returns: 'AccountCommandResult',
  },
});

/**
 * The bank account's commands as mutations, derived from `bankAccountCommands`:
 * `openAccount(accountId: ID!, owner: String!)`, `deposit(accountId: ID!, amount: Int!)`,
 * `withdraw(accountId: ID!, amount: Int!)` and `closeAccount(accountId: ID!)`. Each
 * returns `AccountCommandResult { streamId version position balance }`, the balance as
 * the aggregate decided it (no projection in between). Domain errors keep their codes
 * (`ACCOUNT_INSUFFICIENT_FUNDS`, ...) in `extensions.code`, their figures in
 * `extensions.details`.
 *
 * Amounts are GraphQL `Int`s: one mutation moves at most 2,147,483,647 minor units, a
 * narrower bound than the domain's 10^12. GraphQL refuses a larger amount before anything
 * runs (400, GRAPHQL_VALIDATION_FAILED: `Variable "$amount" got invalid value
 * 2147483648; Int cannot represent non 32-bit signed integer value`); 0 or less is
 * BAD_USER_INPUT on `amount` (zod). Balances go to 10^15, so they are decimal strings.
 *
 * @example
 * ```graphql
 * mutation { deposit(accountId: "acc-1", amount: 500) { streamId version position balance } }
 * ```
 */
export const bankAccountMutations = graphqlPart({
  name: 'bank-account',
  typeDefs: `${accountResultTypeDefs}\n\n${mutations.typeDefs}`,
  resolvers: {
    ...mutations.resolvers,
    AccountCommandResult: {
      balance: (outcome: MutationOutcome<typeof bankAccount>) => String(outcome.state.balance),
    },
  },
});
