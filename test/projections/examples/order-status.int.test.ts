import { catchUpConsumers, defineProjection, type EventStore, type ProjectedEvent } from 'annals';
import { describe, expect, it } from 'vitest';
import { orderProcessManager } from '../../../domain/orders/order-process-manager.js';
import { order } from '../../../domain/orders/order/order.aggregate.js';
import { orderEvents, type OrderLine } from '../../../domain/orders/order/order.events.js';
import { orderStatus } from '../../../projections/order-status/order-status.projection.js';
import { expectAllFinal, openPaymentAccount, placeOrder, receiveStock } from '../../domain/orders/support/orders.js';
import { createTestStore, eventually } from '../../setup/database.js';
import { catchUp, deliverAgain, everyEvent, generationsOf, readModel, seed, seededRandom } from './support/examples.js';

const store: EventStore = await createTestStore('ex_order_status');
const random = seededRandom(seed);

/** Scarce stock and tight credit, so that orders end every way the process allows. */
const skus = ['pen', 'ink', 'pad', 'nib'];
const customers = ['ada', 'grace', 'edsger', 'barbara'];
let placed = 0;

async function openShop(): Promise<void> {
  for (const sku of skus) await receiveStock(store, sku, 4 + random.below(12));
  for (const customer of customers) await openPaymentAccount(store, customer, 2_000 + random.below(15_000));
  // Outcomes the random orders might miss: plenty for `rich`, nothing for `broke`.
  await receiveStock(store, 'plenty', 1_000);
  await openPaymentAccount(store, 'rich', 1_000_000);
  await openPaymentAccount(store, 'broke', 1);
}

async function place(customer: string, lines: OrderLine[]): Promise<string> {
  const orderId = `o${++placed}`;
  await placeOrder(store, orderId, customer, lines);
  return orderId;
}

async function placeRandomOrders(count: number): Promise<string[]> {
  const orderIds: string[] = [];
  for (let i = 0; i < count; i++) {
    const chosen = [...new Set(Array.from({ length: 1 + random.below(3) }, () => random.pick(skus)))];
    const lines = chosen.map((sku) => ({ sku, quantity: 1 + random.below(4), unitPrice: 100 + random.below(2_900) }));
    orderIds.push(await place(random.pick(customers), lines));
  }
  return orderIds;
}

/** Runs the order process until every order is confirmed or cancelled (see test/domain/orders). */
const processManager = orderProcessManager();

async function settle(orderIds: readonly string[]): Promise<void> {
  await eventually(async () => {
    await catchUpConsumers(store, [processManager]);
    await expectAllFinal(store, orderIds);
  }, 30_000);
}

interface Row {
  order_id: string;
  customer_id: string;
  total: number;
  status: string;
  cancellation_reason: string | null;
  placed_at: Date;
  updated_at: Date;
  version: number;
}

const byOrder = (a: Row, b: Row) => (a.order_id < b.order_id ? -1 : 1);

/** Folded from the order streams: placed, then each event moves the order on. */
async function expectedRows(): Promise<Row[]> {
  const orders = new Map<string, Row>();
  const events = await everyEvent(store, { categories: [order.category] });
  for (const event of events.map((e) => ({ ...e, ...order.eventCodec.decode(e) }) as ProjectedEvent<typeof orderEvents>)) {
    const { orderId } = event.data;
    if (event.type === 'OrderPlaced') {
      orders.set(orderId, {
        order_id: orderId,
        customer_id: event.data.customerId,
        total: event.data.total,
        status: 'placed',
        cancellation_reason: null,
        placed_at: event.recordedAt,
        updated_at: event.recordedAt,
        version: event.version,
      });
      continue;
    }
    const row = orders.get(orderId)!;
    row.status = { OrderStockReserved: 'stock_reserved', OrderConfirmed: 'confirmed', OrderCancelled: 'cancelled' }[event.type];
    if (event.type === 'OrderCancelled') row.cancellation_reason = event.data.reason;
    row.updated_at = event.recordedAt;
    row.version = event.version;
  }
  return [...orders.values()].sort(byOrder);
}

/** bigint comes back from pg as a string; totals are far below 2^53. */
async function readRows(): Promise<Row[]> {
  const rows = await readModel<Row & { total: string }>(store, orderStatus, 'order_status', 'order_id');
  return rows.map((row) => ({ ...row, total: Number(row.total) })).sort(byOrder);
}

describe(`the order-status projection (SEED=${seed})`, () => {
  it('shows where every order is, as the order streams say', async () => {
    await openShop();
    const settled = [
      await place('rich', [{ sku: 'plenty', quantity: 1, unitPrice: 500 }]),
      await place('broke', [{ sku: 'plenty', quantity: 1, unitPrice: 500 }]),
      await place('rich', [{ sku: 'pen', quantity: 1_000, unitPrice: 100 }]),
      ...(await placeRandomOrders(12)),
    ];
    await settle(settled);
    await catchUp(store, [orderStatus], { batchSize: 7 });
    expect(await readRows()).toEqual(await expectedRows());

    // New orders the process has handled once (some further along, some final), and two
    // it has not seen yet: still placed.
    await placeRandomOrders(6);
    await catchUpConsumers(store, [processManager]);
    await placeRandomOrders(2);
    await catchUp(store, [orderStatus]);
    const expected = await expectedRows();
    expect(await readRows()).toEqual(expected);
    // Every way an order can stand, including both kinds of cancellation.
    const statuses = expected.map((row) => row.status);
    expect(statuses).toEqual(expect.arrayContaining(['confirmed', 'cancelled', 'placed']));
    expect(expected.some((row) => row.cancellation_reason?.startsWith('out of stock'))).toBe(true);
    expect(expected.some((row) => row.cancellation_reason?.startsWith('payment declined'))).toBe(true);
  });

  it('never moves an order back when its events are delivered again, even out of order', async () => {
    const before = await readRows();
    const events = await everyEvent(store, { categories: [order.category] });
    await deliverAgain(store, orderStatus, events.reverse());
    expect(await readRows()).toEqual(before);
  });

  it('rebuilds into three partitions with the same rows', async () => {
    const v2 = defineProjection({ ...orderStatus.definition, version: 2, partitions: 3 });
    await catchUp(store, [v2], { replayBatchSize: 10 });
    expect(await generationsOf(store, v2)).toEqual([[2, 'live']]);
    expect(await readRows()).toEqual(await expectedRows());
  });
});
