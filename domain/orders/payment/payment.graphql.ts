import { commandMutations } from 'annals/server';
import { paymentAccount } from './payment-account.aggregate.js';

/**
 * A customer's payment account, as a mutation derived from
 * `paymentAccountCommands.OpenPaymentAccount`: `openPaymentAccount(payer: ID!,
 * creditLimit: Int!)` (cents). The order process authorizes each order's total against
 * it; without one, an order is cancelled (`payment declined: no_account`).
 *
 * @example
 * ```graphql
 * mutation { openPaymentAccount(payer: "ada", creditLimit: 100000) { streamId version position } }
 * ```
 */
export const paymentMutations = commandMutations(paymentAccount, {
  OpenPaymentAccount: {
    name: 'openPaymentAccount',
    aggregateId: 'payer',
    description: "Opens the payer's account with a credit limit in cents; orders above what is left are declined.",
  },
});
