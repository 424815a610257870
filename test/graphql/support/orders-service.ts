/**
 * The order flow served over GraphQL for the tests of test/graphql: a store in a schema
 * of its own, `placeOrder` and `order(id)` composed, the order-status projection, and
 * the order process manager to move orders forward (with stock and payment accounts set
 * up through the domain's commands, which are not mutations).
 */
import { randomBytes } from 'node:crypto';
import {
  catchUpConsumers,
  catchUpProjections,
  handleCommand,
  runConsumers,
  runProjections,
  type EventStore,
} from '../../../src/index.js';
import { composeSchema, type ComposedSchema } from '../../../src/graphql/compose-schema.js';
import { stockItem } from '../../../domain/orders/inventory/stock-item.aggregate.js';
import { orderProcessManager } from '../../../domain/orders/order-process-manager.js';
import { orderMutations } from '../../../domain/orders/order/order.graphql.js';
import { paymentAccount } from '../../../domain/orders/payment/payment-account.aggregate.js';
import { orderStatusGraphQL } from '../../../projections/order-status/order-status.graphql.js';
import { orderStatus } from '../../../projections/order-status/order-status.projection.js';
import { startService } from '../../server/support/http.js';
import { eventually } from '../../setup/database.js';
import { countedStore, StatementLog } from './likes-service.js';

export interface OrdersService {
  store: EventStore;
  statements: StatementLog;
  composed: ComposedSchema;
  /** A listening service on port 0, closed when the test ends (call it in a test). */
  start(): Promise<string>;
  /** Catches the order-status projection up once. */
  catchUp(): Promise<void>;
  /**
   * Drives the order process and the projection until `done` stops throwing: each round
   * handles what the previous one's commands appended.
   */
  settle(done: () => Promise<void>): Promise<void>;
  /** Runs the projection and the order process in the background until `stop()`. */
  runWorkers(): Promise<{ stop(): Promise<void> }>;
  /** A customer and skus of the test's own, so tests share no stock or credit. */
  shop(options: { stock: Record<string, number>; creditLimit: number }): Promise<{ customer: string; sku: (name: string) => string; orderId: () => string }>;
}

/** Call at the top level of a test file: it registers the file's clean-up hooks. */
export async function ordersService(prefix: string): Promise<OrdersService> {
  const { store, statements } = await countedStore(prefix, 20);
  const composed = composeSchema([orderMutations, orderStatusGraphQL]);
  const processManager = orderProcessManager();
  const catchUp = () => catchUpProjections(store, [orderStatus]);
  return {
    store,
    statements,
    composed,
    start: async () => (await startService({ store, ...composed })).url,
    catchUp,
    settle: (done) =>
      eventually(async () => {
        await catchUpConsumers(store, [processManager]);
        await catchUp();
        await done();
      }, 30_000),
    runWorkers: async () => {
      const projections = runProjections(store, [orderStatus], { pollIntervalMs: 5_000 });
      const consumers = runConsumers(store, [processManager], { pollIntervalMs: 5_000 });
      await Promise.all([projections.ready, consumers.ready]);
      return { stop: async () => void (await Promise.all([projections.stop(), consumers.stop()])) };
    },
    shop: async ({ stock, creditLimit }) => {
      const id = randomBytes(3).toString('hex');
      const sku = (name: string) => `${name}-${id}`;
      const customer = `customer-${id}`;
      for (const [name, quantity] of Object.entries(stock)) {
        await handleCommand(store, stockItem, sku(name), { type: 'ReceiveStock', data: { sku: sku(name), quantity } });
      }
      await handleCommand(store, paymentAccount, customer, { type: 'OpenPaymentAccount', data: { payer: customer, creditLimit } });
      let orders = 0;
      return { customer, sku, orderId: () => `o-${id}-${++orders}` };
    },
  };
}

export const orderDocuments = {
  placeOrder: `mutation Place($orderId: ID!, $customerId: ID!, $lines: [PlaceOrderLinesInput!]!) {
    placeOrder(orderId: $orderId, customerId: $customerId, lines: $lines) { streamId version position }
  }`,
  order: `query Order($id: ID!) {
    order(id: $id) { id customerId total status cancellationReason history { status reason position } }
  }`,
};
