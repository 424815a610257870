import { commandMutations } from 'annals/server';
import { stockItem } from './stock-item.aggregate.js';

/**
 * Stock arriving, as a mutation derived from `stockItemCommands.ReceiveStock`:
 * `receiveStock(sku: ID!, quantity: Int!)`, so that orders placed over GraphQL have
 * something to reserve. Holds and releases are the order process's (reserveStock), not a
 * client's: they are not mutations.
 *
 * @example
 * ```graphql
 * mutation { receiveStock(sku: "pen", quantity: 10) { streamId version position } }
 * ```
 */
export const inventoryMutations = commandMutations(stockItem, {
  ReceiveStock: {
    name: 'receiveStock',
    aggregateId: 'sku',
    description: 'Stock of the sku arrives: the quantity (at least 1) is added to what orders may reserve.',
  },
});
