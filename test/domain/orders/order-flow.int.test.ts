import { describe, expect, it } from 'vitest';
import { catchUpConsumers, consumerStatus, runConsumers, type EventStore } from '../../../src/index.js';
import { stockReservation } from '../../../domain/orders/inventory/stock-reservation.aggregate.js';
import { orderProcessId, orderProcessManager, reservationIdFor } from '../../../domain/orders/order-process-manager.js';
import { order } from '../../../domain/orders/order/order.aggregate.js';
import { paymentAccount } from '../../../domain/orders/payment/payment-account.aggregate.js';
import { stockItem } from '../../../domain/orders/inventory/stock-item.aggregate.js';
import { createTestStore, eventually } from '../../setup/database.js';
import {
  countEvents,
  eventsOf,
  expectAllFinal,
  lastPositionOf,
  openPaymentAccount,
  orderState,
  placeOrder,
  reactedTypes,
  receiveStock,
  stockOf,
  typesOf,
  unique,
} from './support/orders.js';

// At the top level, not in beforeAll: createTestStore registers the hooks that close the
// store and drop the schema, and hooks registered while another hook runs never run.
const store: EventStore = await createTestStore('orders_flow');

const processManager = orderProcessManager();

/**
 * Drives the process manager until the orders are final: each catch-up handles what was
 * committed before it, the commands it sends cause the next steps' events, and the next
 * round handles those.
 */
async function settle(orderIds: readonly string[]): Promise<void> {
  await eventually(async () => {
    await catchUpConsumers(store, [processManager]);
    await expectAllFinal(store, orderIds);
  }, 30_000);
}

/** The lowest checkpoint of a consumer's partitions. */
async function lowestCheckpoint(name: string): Promise<bigint> {
  const { partitions } = await consumerStatus(store, [{ name }]);
  return partitions.map((p) => p.position).reduce((a, b) => (a < b ? a : b));
}

/** One customer and two skus of their own, so tests do not share stock or credit. */
async function shop(options: { pens: number; inks: number; creditLimit: number }) {
  const id = unique();
  const shop = { pen: `pen-${id}`, ink: `ink-${id}`, customer: `ada-${id}`, orderId: `o-${id}` };
  if (options.pens > 0) await receiveStock(store, shop.pen, options.pens);
  if (options.inks > 0) await receiveStock(store, shop.ink, options.inks);
  await openPaymentAccount(store, shop.customer, options.creditLimit);
  return shop;
}

describe('the order flow', () => {
  it('reserves the stock, authorizes the payment and confirms the order', async () => {
    const { pen, ink, customer, orderId } = await shop({ pens: 10, inks: 5, creditLimit: 100_000 });
    await placeOrder(store, orderId, customer, [
      { sku: pen, quantity: 2, unitPrice: 150 },
      { sku: ink, quantity: 1, unitPrice: 899 },
    ]);

    await settle([orderId]);

    expect(await typesOf(store, order.streamId(orderId))).toEqual(['OrderPlaced', 'OrderStockReserved', 'OrderConfirmed']);
    expect(await orderState(store, orderId)).toMatchObject({ status: 'confirmed', total: 1199, reservationId: `order-${orderId}`, paymentId: `order-${orderId}` });
    expect(await typesOf(store, stockReservation.streamId(reservationIdFor(orderId)))).toEqual(['StockReserved']);
    expect(await stockOf(store, pen)).toEqual({ onHand: 10, available: 8 });
    expect(await stockOf(store, ink)).toEqual({ onHand: 5, available: 4 });
    const payments = await eventsOf(store, paymentAccount.streamId(customer));
    expect(payments.map((e) => [e.type, e.data])).toEqual([
      ['PaymentAccountOpened', { payer: customer, creditLimit: 100_000 }],
      ['PaymentAuthorized', { paymentId: `order-${orderId}`, payer: customer, amount: 1199 }],
    ]);
  });

  it('ties every event it causes to the order (correlation) and to the event that triggered it (causation)', async () => {
    const { pen, customer, orderId } = await shop({ pens: 1, inks: 0, creditLimit: 100_000 });
    await placeOrder(store, orderId, customer, [{ sku: pen, quantity: 1, unitPrice: 100 }]);
    await settle([orderId]);

    const [placed, stockReserved, confirmed] = await eventsOf(store, order.streamId(orderId));
    const [reserved] = await eventsOf(store, stockReservation.streamId(reservationIdFor(orderId)));
    const [, held] = await eventsOf(store, stockItem.streamId(pen));
    const [, authorized] = await eventsOf(store, paymentAccount.streamId(customer));
    for (const caused of [reserved, held, stockReserved, authorized, confirmed]) {
      expect(caused!.metadata.correlationId).toBe(orderProcessId(orderId));
    }
    expect(reserved!.metadata.causationId).toBe(`${placed!.id}:reserve-stock`);
    expect(held!.metadata.causationId).toBe(`${placed!.id}:reserve-stock`);
    expect(stockReserved!.metadata.causationId).toBe(`${reserved!.id}:mark-stock-reserved`);
    expect(authorized!.metadata.causationId).toBe(`${reserved!.id}:authorize-payment`);
    expect(confirmed!.metadata.causationId).toBe(`${authorized!.id}:confirm-order`);
  });

  it('compensates a declined payment: the stock goes back on sale and the order is cancelled', async () => {
    const { pen, ink, customer, orderId } = await shop({ pens: 10, inks: 5, creditLimit: 1000 });
    await placeOrder(store, orderId, customer, [
      { sku: pen, quantity: 2, unitPrice: 150 },
      { sku: ink, quantity: 1, unitPrice: 899 },
    ]);

    await settle([orderId]);

    expect(await typesOf(store, order.streamId(orderId))).toEqual(['OrderPlaced', 'OrderStockReserved', 'OrderCancelled']);
    expect((await orderState(store, orderId)).cancellationReason).toBe('payment declined: credit_limit_exceeded');
    expect(await typesOf(store, paymentAccount.streamId(customer))).toEqual(['PaymentAccountOpened', 'PaymentDeclined']);
    expect(await typesOf(store, stockReservation.streamId(reservationIdFor(orderId)))).toEqual(['StockReserved', 'StockReleased']);
    expect(await typesOf(store, stockItem.streamId(pen))).toEqual(['StockReceived', 'StockHeld', 'StockHoldReleased']);
    expect(await stockOf(store, pen)).toEqual({ onHand: 10, available: 10 });
    expect(await stockOf(store, ink)).toEqual({ onHand: 5, available: 5 });
  });

  it('cancels an order when a sku is short, holds nothing (all or nothing) and never asks for payment', async () => {
    const { pen, ink, customer, orderId } = await shop({ pens: 10, inks: 1, creditLimit: 100_000 });
    await placeOrder(store, orderId, customer, [
      { sku: pen, quantity: 2, unitPrice: 150 },
      { sku: ink, quantity: 2, unitPrice: 899 },
    ]);

    await settle([orderId]);

    expect(await typesOf(store, order.streamId(orderId))).toEqual(['OrderPlaced', 'OrderCancelled']);
    expect((await orderState(store, orderId)).cancellationReason).toBe(`out of stock: ${ink} (2 wanted, 1 available)`);
    const [failed] = await eventsOf(store, stockReservation.streamId(reservationIdFor(orderId)));
    expect(failed).toMatchObject({ type: 'StockReservationFailed', data: { shortages: [{ sku: ink, requested: 2, available: 1 }] } });
    expect(await typesOf(store, stockItem.streamId(pen))).toEqual(['StockReceived']);
    expect(await stockOf(store, pen)).toEqual({ onHand: 10, available: 10 });
    expect(await typesOf(store, paymentAccount.streamId(customer))).toEqual(['PaymentAccountOpened']);
  });

  it('appends nothing when every event is delivered again, from the start of the log', async () => {
    const { pen, ink, customer, orderId } = await shop({ pens: 3, inks: 1, creditLimit: 2000 });
    const orders = [`${orderId}-a`, `${orderId}-b`, `${orderId}-c`];
    await placeOrder(store, orders[0]!, customer, [{ sku: pen, quantity: 1, unitPrice: 1000 }]); // a and b: one confirmed,
    await placeOrder(store, orders[1]!, customer, [{ sku: pen, quantity: 1, unitPrice: 1500 }]); // the other declined (2000 of credit)
    await placeOrder(store, orders[2]!, customer, [{ sku: ink, quantity: 2, unitPrice: 10 }]); // short of ink
    await settle(orders);
    const before = await countEvents(store);

    // A consumer of another name starts from 0: every event of the log, this file's
    // earlier tests included, is delivered again.
    const replay = orderProcessManager({ name: `replay-${unique()}` });
    const last = await lastPositionOf(store, reactedTypes);
    await catchUpConsumers(store, [replay]);
    expect(await lowestCheckpoint(replay.name)).toBeGreaterThanOrEqual(last);

    expect(await countEvents(store)).toBe(before);
    await catchUpConsumers(store, [processManager]);
    expect(await countEvents(store)).toBe(before);
    // a and b contend for the customer's credit: the one handled first (partitions run in
    // parallel, in no promised order) is confirmed, the other declined.
    const statuses = (await Promise.all(orders.map((id) => orderState(store, id)))).map((s) => s.status);
    expect(statuses.slice(0, 2).sort()).toEqual(['cancelled', 'confirmed']);
    expect(statuses[2]).toBe('cancelled');
    expect(await stockOf(store, pen)).toEqual({ onHand: 3, available: 2 });
  });

  it('stays exact with two processes sharing its partitions, orders contending for stock and credit', async () => {
    const { pen, ink, customer, orderId } = await shop({ pens: 4, inks: 2, creditLimit: 5000 });
    const orders = Array.from({ length: 8 }, (_, i) => `${orderId}-${i}`);
    for (const id of orders) {
      await placeOrder(store, id, customer, [
        { sku: pen, quantity: 1, unitPrice: 1000 },
        { sku: ink, quantity: 1, unitPrice: 500 },
      ]);
    }
    const before = await countEvents(store);

    // Two workers share the partitions under leases; the orders of one customer contend
    // for the same stock items and payment account across partitions.
    const handled: number[] = [];
    const runners = [1, 2].map((n) =>
      runConsumers(store, [processManager], { workerId: `pm-${orderId}-${n}`, pollIntervalMs: 20, onBatch: ({ events }) => void handled.push(events) }),
    );
    try {
      // Every order final, and every partition past the last event the process reacts to:
      // a partition that owns none of the last events moves its checkpoint at its next
      // poll, which a loaded machine may not have reached when the orders are final.
      await eventually(async () => {
        await expectAllFinal(store, orders);
        expect(await lowestCheckpoint(processManager.name)).toBeGreaterThanOrEqual(await lastPositionOf(store, reactedTypes));
      }, 30_000);
    } finally {
      await Promise.all(runners.map((runner) => runner.stop()));
    }
    expect(handled.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    // Ink is the limit: 2 orders get stock, both are paid (1500 each, limit 5000).
    const statuses = await Promise.all(orders.map(async (id) => (await orderState(store, id)).status));
    expect(statuses.filter((s) => s === 'confirmed')).toHaveLength(2);
    expect(statuses.filter((s) => s === 'cancelled')).toHaveLength(6);
    expect(await stockOf(store, pen)).toEqual({ onHand: 4, available: 2 });
    expect(await stockOf(store, ink)).toEqual({ onHand: 2, available: 0 });
    // Per confirmed order: 2 holds, StockReserved, OrderStockReserved, PaymentAuthorized,
    // OrderConfirmed. Per cancelled one: StockReservationFailed, OrderCancelled.
    expect(await countEvents(store)).toBe(before + 2 * 6 + 6 * 2);
    for (const id of orders) {
      const types = await typesOf(store, order.streamId(id));
      expect([
        ['OrderPlaced', 'OrderStockReserved', 'OrderConfirmed'],
        ['OrderPlaced', 'OrderCancelled'],
      ]).toContainEqual(types);
    }
  });
});
