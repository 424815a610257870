import { commandMutations } from 'annals/server';
import { order } from './order.aggregate.js';

/**
 * Placing an order as a mutation, derived from `orderCommands.PlaceOrder`:
 * `placeOrder(orderId: ID!, customerId: ID!, lines: [PlaceOrderLinesInput!]!)`, with
 * `input PlaceOrderLinesInput { sku: String! quantity: Int! unitPrice: Int! }` (a change
 * to the command's schema changes them). It returns `CommandResult { streamId version
 * position }`: the order is `placed`; the order process (domain/orders) then reserves its
 * stock and payment, and `order(id) { status history }` follows it there.
 *
 * The order's other commands are the process's, not a client's: they are not mutations.
 * `ORDER_ALREADY_PLACED` reaches the client as `extensions.code`; bad lines (none, a sku
 * twice, a quantity of 0) are BAD_USER_INPUT naming the field (`lines`, `lines[0].quantity`).
 *
 * @example
 * ```graphql
 * mutation {
 *   placeOrder(orderId: "o-1", customerId: "ada", lines: [{ sku: "pen", quantity: 2, unitPrice: 150 }]) { streamId version position }
 * }
 * ```
 */
export const orderMutations = commandMutations(order, {
  PlaceOrder: {
    name: 'placeOrder',
    aggregateId: 'orderId',
    description:
      'Places the order (each sku once, prices in cents); the order process then reserves its stock and payment (ORDER_ALREADY_PLACED for an id placed before).',
  },
});
