import { describe, expect, it } from 'vitest';
import { eventually } from '../setup/database.js';
import { graphql } from './support/likes-service.js';
import { orderDocuments, ordersService } from './support/orders-service.js';

const orders = await ordersService('gql_orders_race');

describe('orders placed at once over HTTP', () => {
  it('one order id placed by many clients at once is placed once; the others get ORDER_ALREADY_PLACED', { timeout: 120_000 }, async () => {
    const url = await orders.start();
    const shop = await orders.shop({ stock: { pen: 10 }, creditLimit: 10_000 });
    const orderId = shop.orderId();
    const answers = await Promise.all(
      Array.from({ length: 15 }, (_, i) =>
        graphql(url, orderDocuments.placeOrder, { orderId, customerId: shop.customer, lines: [{ sku: shop.sku('pen'), quantity: 1 + i, unitPrice: 5 }] }),
      ),
    );
    const placed = answers.filter((answer) => answer.errors === undefined);
    expect(placed).toHaveLength(1);
    for (const answer of answers.filter((a) => a.errors !== undefined)) {
      expect(answer.errors).toEqual([expect.objectContaining({ path: ['placeOrder'], extensions: { code: 'ORDER_ALREADY_PLACED', details: { orderId } } })]);
    }
    const events = await orders.store.readStream(`order-${orderId}`);
    expect(events).toHaveLength(1);
    expect((placed[0]!.data!.placeOrder as { position: string }).position).toBe(String(events[0]!.globalPosition));
  });

  it('more orders than stock: as many are confirmed as the stock allows, the rest cancelled as out of stock, whatever their order', { timeout: 180_000 }, async () => {
    const url = await orders.start();
    const shop = await orders.shop({ stock: { pen: 5 }, creditLimit: 1_000_000 });
    const workers = await orders.runWorkers();
    try {
      const orderIds = Array.from({ length: 12 }, () => shop.orderId());
      const answers = await Promise.all(
        orderIds.map((orderId) =>
          graphql(url, orderDocuments.placeOrder, { orderId, customerId: shop.customer, lines: [{ sku: shop.sku('pen'), quantity: 1, unitPrice: 250 }] }),
        ),
      );
      for (const answer of answers) expect(answer.errors).toBeUndefined();

      const query = `query { ${orderIds.map((id, i) => `o${i}: order(id: "${id}") { status cancellationReason history { status } }`).join(' ')} }`;
      const final = await eventually(async () => {
        const answer = await graphql(url, query);
        expect(answer.errors).toBeUndefined();
        const found = Object.values(answer.data!) as { status: string; cancellationReason: string | null; history: { status: string }[] }[];
        for (const order of found) expect(['confirmed', 'cancelled']).toContain(order.status);
        return found;
      }, 60_000);
      const confirmed = final.filter((order) => order.status === 'confirmed');
      const cancelled = final.filter((order) => order.status === 'cancelled');
      expect(confirmed).toHaveLength(5);
      expect(cancelled).toHaveLength(7);
      for (const order of confirmed) expect(order.history.map((change) => change.status)).toEqual(['placed', 'stock_reserved', 'confirmed']);
      for (const order of cancelled) {
        expect(order.cancellationReason).toBe(`out of stock: ${shop.sku('pen')} (1 wanted, 0 available)`);
        expect(order.history.map((change) => change.status)).toEqual(['placed', 'cancelled']);
      }
    } finally {
      await workers.stop();
    }
  });
});
