import { describe, expect, it } from 'vitest';
import { catchUpConsumers } from '../../src/index.js';
import { orderProcessManager } from '../../domain/orders/order-process-manager.js';
import { eventually } from '../setup/database.js';
import { postGraphQL } from '../server/support/http.js';
import { graphql } from './support/likes-service.js';
import { orderDocuments, ordersService } from './support/orders-service.js';

const orders = await ordersService('gql_orders');

interface OrderAnswer {
  id: string;
  customerId: string;
  total: string;
  status: string;
  cancellationReason: string | null;
  history: { status: string; reason: string | null; position: string }[];
}

async function orderOf(url: string, id: string): Promise<OrderAnswer | null> {
  const answer = await graphql(url, orderDocuments.order, { id });
  expect(answer.errors).toBeUndefined();
  return answer.data!.order as OrderAnswer | null;
}

/** Settles the order process until the order is in `status`; its answer then. */
async function settleAt(url: string, id: string, status: string): Promise<OrderAnswer> {
  let found: OrderAnswer | null = null;
  await orders.settle(async () => {
    found = await orderOf(url, id);
    if (found?.status !== status) throw new Error(`order ${id} is ${found?.status ?? 'not there'}, not ${status} yet`);
  });
  return found!;
}

/** The global positions of the order stream's events, as strings: what history must show. */
async function positionsOf(id: string): Promise<string[]> {
  return (await orders.store.readStream(`order-${id}`)).map((event) => String(event.globalPosition));
}

describe('placeOrder over HTTP', () => {
  it('appends OrderPlaced with the total decided by the aggregate, and answers the stream, version and position', async () => {
    const url = await orders.start();
    const shop = await orders.shop({ stock: { pen: 10 }, creditLimit: 10_000 });
    const orderId = shop.orderId();
    const lines = [{ sku: shop.sku('pen'), quantity: 2, unitPrice: 150 }];
    const answer = await graphql(url, orderDocuments.placeOrder, { orderId, customerId: shop.customer, lines });
    const [event] = await orders.store.readStream(`order-${orderId}`);
    expect(answer.data).toEqual({ placeOrder: { streamId: `order-${orderId}`, version: 1, position: String(event!.globalPosition) } });
    expect(event).toMatchObject({ type: 'OrderPlaced', data: { orderId, customerId: shop.customer, lines, total: 300 } });
  });

  it('is followed through the order process to confirmed: status and history from the read model', async () => {
    const url = await orders.start();
    const shop = await orders.shop({ stock: { pen: 10, ink: 5 }, creditLimit: 100_000 });
    const orderId = shop.orderId();
    const lines = [
      { sku: shop.sku('pen'), quantity: 2, unitPrice: 150 },
      { sku: shop.sku('ink'), quantity: 1, unitPrice: 899 },
    ];
    await graphql(url, orderDocuments.placeOrder, { orderId, customerId: shop.customer, lines });
    const confirmed = await settleAt(url, orderId, 'confirmed');
    const positions = await positionsOf(orderId);
    expect(confirmed).toEqual({
      id: orderId,
      customerId: shop.customer,
      total: '1199',
      status: 'confirmed',
      cancellationReason: null,
      history: [
        { status: 'placed', reason: null, position: positions[0] },
        { status: 'stock_reserved', reason: null, position: positions[1] },
        { status: 'confirmed', reason: null, position: positions[2] },
      ],
    });
  });

  it.each([
    ['out of stock', { pen: 1 }, 100_000, (pen: string) => `out of stock: ${pen} (3 wanted, 1 available)`, 2],
    ['payment declined', { pen: 10 }, 100, () => 'payment declined: credit_limit_exceeded', 3],
  ])('ends cancelled when %s, with the reason in history', async (_case, stock, creditLimit, reason, steps) => {
    const url = await orders.start();
    const shop = await orders.shop({ stock, creditLimit });
    const orderId = shop.orderId();
    await graphql(url, orderDocuments.placeOrder, { orderId, customerId: shop.customer, lines: [{ sku: shop.sku('pen'), quantity: 3, unitPrice: 150 }] });
    const cancelled = await settleAt(url, orderId, 'cancelled');
    expect(cancelled.cancellationReason).toBe(reason(shop.sku('pen')));
    expect(cancelled.history).toHaveLength(steps);
    expect(cancelled.history.at(-1)).toEqual({ status: 'cancelled', reason: reason(shop.sku('pen')), position: (await positionsOf(orderId)).at(-1) });
  });

  it('answers null for an order never placed; several orders in one request are one read', async () => {
    const url = await orders.start();
    const shop = await orders.shop({ stock: { pen: 10 }, creditLimit: 10_000 });
    const [first, second] = [shop.orderId(), shop.orderId()];
    for (const orderId of [first, second]) {
      await graphql(url, orderDocuments.placeOrder, { orderId, customerId: shop.customer, lines: [{ sku: shop.sku('pen'), quantity: 1, unitPrice: 5 }] });
    }
    await orders.catchUp();
    let answer: Awaited<ReturnType<typeof graphql>> | undefined;
    const statements = await orders.statements.during(async () => {
      answer = await graphql(url, `query ($a: ID!, $b: ID!) { a: order(id: $a) { id status } b: order(id: $b) { id status } c: order(id: "never") { id } }`, {
        a: first,
        b: second,
      });
    });
    expect(answer!.data).toEqual({ a: { id: first, status: 'placed' }, b: { id: second, status: 'placed' }, c: null });
    expect(statements.filter((text) => text.includes('"order_status"'))).toHaveLength(1);
  });
});

describe('history and status', () => {
  it('agree when the order stream is ahead of the projection: history stops at the version the row reflects', async () => {
    const url = await orders.start();
    const shop = await orders.shop({ stock: { pen: 10 }, creditLimit: 10_000 });
    const orderId = shop.orderId();
    await graphql(url, orderDocuments.placeOrder, { orderId, customerId: shop.customer, lines: [{ sku: shop.sku('pen'), quantity: 1, unitPrice: 5 }] });
    await orders.catchUp();
    // The process manager moves the order on; the projection is not caught up again.
    await eventually(async () => {
      await catchUpConsumers(orders.store, [orderProcessManager()]);
      expect(await orders.store.readStream(`order-${orderId}`)).toHaveLength(3);
    }, 30_000);
    const behind = await orderOf(url, orderId);
    expect(behind).toMatchObject({ status: 'placed', history: [{ status: 'placed' }] });
    await orders.catchUp();
    expect((await orderOf(url, orderId))!.history.map((change) => change.status)).toEqual(['placed', 'stock_reserved', 'confirmed']);
  });
});

describe('read your writes', () => {
  it('a query with the mutation’s position finds the order, its history agreeing with its status, while workers move it on', { timeout: 120_000 }, async () => {
    const url = await orders.start();
    const workers = await orders.runWorkers();
    try {
      const shop = await orders.shop({ stock: { pen: 100 }, creditLimit: 1_000_000 });
      const answers = await Promise.all(
        Array.from({ length: 12 }, async () => {
          const orderId = shop.orderId();
          const placed = await postGraphQL<{ data: { placeOrder: { position: string } } }>(url, {
            query: orderDocuments.placeOrder,
            variables: { orderId, customerId: shop.customer, lines: [{ sku: shop.sku('pen'), quantity: 1, unitPrice: 10 }] },
          });
          const { position } = placed.body.data.placeOrder;
          const read = await postGraphQL<{ data: { order: OrderAnswer } }>(url, { query: orderDocuments.order, variables: { id: orderId } }, { 'annals-min-position': position });
          return { position, read: read.body };
        }),
      );
      const steps = ['placed', 'stock_reserved', 'confirmed'];
      for (const { position, read } of answers) {
        expect(read).not.toHaveProperty('errors');
        const { status, history } = read.data.order;
        // The process runs on beside the query: any step may be reached, but never a
        // history newer or older than the status it comes with.
        expect(history[0]).toEqual({ status: 'placed', reason: null, position });
        expect(history.map((change) => change.status)).toEqual(steps.slice(0, steps.indexOf(status) + 1));
      }
    } finally {
      await workers.stop();
    }
  });
});

describe('errors', () => {
  it('an order id placed before is ORDER_ALREADY_PLACED, and nothing is appended', async () => {
    const url = await orders.start();
    const shop = await orders.shop({ stock: { pen: 10 }, creditLimit: 10_000 });
    const orderId = shop.orderId();
    const variables = { orderId, customerId: shop.customer, lines: [{ sku: shop.sku('pen'), quantity: 1, unitPrice: 5 }] };
    await graphql(url, orderDocuments.placeOrder, variables);
    const again = await graphql(url, orderDocuments.placeOrder, variables);
    expect(again.data).toBeNull();
    expect(again.errors).toEqual([
      expect.objectContaining({ message: `order ${orderId} was placed before`, path: ['placeOrder'], extensions: { code: 'ORDER_ALREADY_PLACED', details: { orderId } } }),
    ]);
    expect(await orders.store.readStream(`order-${orderId}`)).toHaveLength(1);
  });

  const line = { sku: 'pen', quantity: 1, unitPrice: 5 };
  it.each([
    [{ lines: [] }, [{ field: 'lines', reason: 'Too small: expected array to have >=1 items' }]],
    [{ lines: [line, { ...line, quantity: 2 }] }, [{ field: 'lines', reason: 'must list each sku once' }]],
    [{ lines: [{ ...line, quantity: 0 }] }, [{ field: 'lines[0].quantity', reason: 'Too small: expected number to be >0' }]],
    [{ lines: [{ ...line, quantity: 2 ** 31 - 1, unitPrice: 2 ** 31 - 1 }] }, [{ field: 'lines', reason: `must total at most ${Number.MAX_SAFE_INTEGER} cents` }]],
    [{ lines: [line, { ...line, sku: '', unitPrice: -1 }] }, [
      { field: 'lines[1].sku', reason: 'Too small: expected string to have >=1 characters' },
      { field: 'lines[1].unitPrice', reason: 'Too small: expected number to be >0' },
    ]],
    [{ orderId: '' }, [{ field: 'orderId', reason: 'Too small: expected string to have >=1 characters' }]],
    [{ customerId: 'c'.repeat(201) }, [{ field: 'customerId', reason: 'Too big: expected string to have <=200 characters' }]],
  ])('%j is BAD_USER_INPUT naming the field', async (change, issues) => {
    const url = await orders.start();
    const variables = { orderId: `bad-${Math.random().toString(36).slice(2)}`, customerId: 'ada', lines: [line], ...change };
    const answer = await graphql(url, orderDocuments.placeOrder, variables);
    expect(answer.status).toBe(200);
    expect(answer.errors).toEqual([expect.objectContaining({ path: ['placeOrder'], extensions: { code: 'BAD_USER_INPUT', issues } })]);
    expect(await orders.store.getStreamInfo(`order-${variables.orderId}`)).toBeNull();
  });

  it('lines of the wrong shape are refused by GraphQL before anything runs, naming the field', async () => {
    const url = await orders.start();
    const answer = await graphql(url, orderDocuments.placeOrder, { orderId: 'shape', customerId: 'ada', lines: [{ sku: 'pen', quantity: '2', unitPrice: 5 }] });
    expect(answer.status).toBe(400);
    expect(answer.errors?.[0]).toMatchObject({
      message: expect.stringContaining('at "lines[0].quantity"'),
      extensions: { code: 'BAD_USER_INPUT', issues: [{ field: 'lines[0].quantity', reason: 'Int cannot represent non-integer value: "2"' }] },
    });
    const missing = await graphql(url, `mutation { placeOrder(orderId: "shape", customerId: "ada") { version } }`);
    expect(missing.status).toBe(400);
    expect(missing.errors?.[0]?.message).toBe('Field "placeOrder" argument "lines" of type "[PlaceOrderLinesInput!]!" is required, but it was not provided.');
  });

  it('order(id: "") is BAD_USER_INPUT on id', async () => {
    const url = await orders.start();
    const answer = await graphql(url, orderDocuments.order, { id: '' });
    expect(answer.errors).toEqual([expect.objectContaining({ path: ['order'], extensions: { code: 'BAD_USER_INPUT', issues: [{ field: 'id', reason: 'must not be empty' }] } })]);
  });
});
