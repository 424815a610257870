import { afterEach, describe, expect, it } from 'vitest';
import { consumerStatus, type EventStore } from '../../../src/index.js';
import { stockReservation } from '../../../domain/orders/inventory/stock-reservation.aggregate.js';
import { orderProcessManagerName, reservationIdFor } from '../../../domain/orders/order-process-manager.js';
import { isFinal, order } from '../../../domain/orders/order/order.aggregate.js';
import { paymentAccount } from '../../../domain/orders/payment/payment-account.aggregate.js';
import { stockItem } from '../../../domain/orders/inventory/stock-item.aggregate.js';
import { createTestStore, eventually } from '../../setup/database.js';
import { killAll, processedLines, startProcessManager } from './support/child-process-manager.js';
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
const store: EventStore = await createTestStore('orders_restart');
afterEach(() => killAll());

/** Every run in this file: one partition, one event per batch (the store keeps the count). */
const sequential = { ORDER_PM_PARTITIONS: '1', ORDER_PM_BATCH_SIZE: '1', ORDER_PM_POLL_MS: '20' };

/** The process manager's checkpoint (one partition in these runs). */
async function checkpoint(): Promise<bigint> {
  const { partitions } = await consumerStatus(store, [{ name: orderProcessManagerName }]);
  expect(partitions).toHaveLength(1);
  return partitions[0]!.position;
}

const confirmed = ['OrderPlaced', 'OrderStockReserved', 'OrderConfirmed'];
const paymentDeclined = ['OrderPlaced', 'OrderStockReserved', 'OrderCancelled'];
const outOfStock = ['OrderPlaced', 'OrderCancelled'];

describe('the order process manager as a process of its own', () => {
  it('is killed (SIGKILL) in the middle of the flow, restarts, and finishes exactly as if never interrupted', async () => {
    const id = unique();
    const [pen, ink, ada, bob] = [`pen-${id}`, `ink-${id}`, `ada-${id}`, `bob-${id}`];
    await receiveStock(store, pen, 100);
    await receiveStock(store, ink, 3);
    await openPaymentAccount(store, ada, 1_000_000);
    await openPaymentAccount(store, bob, 500);
    // Handled in this order, so the outcome of each is known in advance.
    const orders = [
      { orderId: `o-${id}-0`, customer: ada, lines: [{ sku: pen, quantity: 2, unitPrice: 300 }], expected: confirmed },
      { orderId: `o-${id}-1`, customer: ada, lines: [{ sku: pen, quantity: 1, unitPrice: 300 }, { sku: ink, quantity: 1, unitPrice: 1000 }], expected: confirmed },
      { orderId: `o-${id}-2`, customer: ada, lines: [{ sku: ink, quantity: 2, unitPrice: 1000 }], expected: confirmed },
      { orderId: `o-${id}-3`, customer: bob, lines: [{ sku: pen, quantity: 1, unitPrice: 1000 }], expected: paymentDeclined },
      { orderId: `o-${id}-4`, customer: ada, lines: [{ sku: ink, quantity: 1, unitPrice: 1000 }], expected: outOfStock },
      { orderId: `o-${id}-5`, customer: ada, lines: [{ sku: pen, quantity: 3, unitPrice: 100 }], expected: confirmed },
    ];
    for (const { orderId, customer, lines } of orders) await placeOrder(store, orderId, customer, lines);
    const orderIds = orders.map((o) => o.orderId);

    // One partition, one event per batch: the orders are handled in the order placed, so
    // the outcome of each is known. First run, slowed down (a pause after each event) so
    // that it is mid-flow when killed.
    const first = startProcessManager(store.schema, { ...sequential, ORDER_PM_THROTTLE_MS: '150' });
    await first.waitFor((lines) => processedLines(lines).length >= 4);
    first.child.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });

    // Partial progress, all of it durable: the checkpoint covers at least what was reported.
    const reported = processedLines(first.lines);
    const lastReported = BigInt(reported.at(-1)!.split(' up to ')[1]!);
    expect(await checkpoint()).toBeGreaterThanOrEqual(lastReported);
    const reservations = await Promise.all(orderIds.map((o) => typesOf(store, stockReservation.streamId(reservationIdFor(o)))));
    expect(reservations.filter((types) => types.length > 0).length).toBeGreaterThanOrEqual(4);
    const midway = await Promise.all(orderIds.map(async (o) => (await orderState(store, o)).status));
    expect(midway.filter((status) => !isFinal(status)).length).toBeGreaterThan(0);

    // Second run, from the checkpoint, until every order is final; then a clean stop.
    // It takes the partition over once the killed one's lease (5 s) lapses.
    const second = startProcessManager(store.schema, sequential);
    await eventually(() => expectAllFinal(store, orderIds), 30_000);
    second.child.kill('SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });

    // The end state is exactly the uninterrupted one: each order's events once, in order.
    for (const { orderId, expected } of orders) expect(await typesOf(store, order.streamId(orderId)), orderId).toEqual(expected);
    expect((await orderState(store, orderIds[3]!)).cancellationReason).toBe('payment declined: credit_limit_exceeded');
    expect(await typesOf(store, stockReservation.streamId(reservationIdFor(orderIds[3]!)))).toEqual(['StockReserved', 'StockReleased']);
    expect(await typesOf(store, stockReservation.streamId(reservationIdFor(orderIds[4]!)))).toEqual(['StockReservationFailed']);
    // pen: 2 + 1 + 3 held for confirmed orders; the 1 of the declined order is back.
    expect(await stockOf(store, pen)).toEqual({ onHand: 100, available: 94 });
    expect(await stockOf(store, ink)).toEqual({ onHand: 3, available: 0 });
    // Every order is reserved before any payment is asked for: holds for orders 0, 1, 3, 5.
    expect(await typesOf(store, stockItem.streamId(pen))).toEqual(['StockReceived', 'StockHeld', 'StockHeld', 'StockHeld', 'StockHeld', 'StockHoldReleased']);
    expect(await typesOf(store, stockItem.streamId(ink))).toEqual(['StockReceived', 'StockHeld', 'StockHeld']);
    const adaPayments = (await eventsOf(store, paymentAccount.streamId(ada))).map((e) => [e.type, (e.data as { amount?: number }).amount]);
    expect(adaPayments).toEqual([
      ['PaymentAccountOpened', undefined],
      ['PaymentAuthorized', 600],
      ['PaymentAuthorized', 1300],
      ['PaymentAuthorized', 2000],
      ['PaymentAuthorized', 300],
    ]);
    expect(await typesOf(store, paymentAccount.streamId(bob))).toEqual(['PaymentAccountOpened', 'PaymentDeclined']);
    // 10 events of setup; then 4 confirmed orders (5 holds, 4 × StockReserved,
    // OrderStockReserved, PaymentAuthorized, OrderConfirmed), the declined one (7 events)
    // and the one out of stock (2): nothing twice.
    expect(await countEvents(store)).toBe(10 + 21 + 7 + 2);
    expect(await checkpoint()).toBeGreaterThanOrEqual(await lastPositionOf(store, reactedTypes));
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('stops on %s promptly, even in the middle of a long poll, and exits 0', async (signal) => {
    const running = startProcessManager(store.schema, { ...sequential, ORDER_PM_POLL_MS: '60000' });
    await running.waitFor((lines) => lines.some((line) => line.startsWith('order process manager started')));
    await new Promise((resolve) => setTimeout(resolve, 200)); // into its poll: nothing is new
    const sent = Date.now();
    running.child.kill(signal);
    expect(await running.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - sent).toBeLessThan(3000);
    expect(running.lines.at(-1)).toBe('order process manager stopped');
  });
});
