import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { handleCommand, runProjections } from '../../src/index.js';
import { stockItem } from '../../domain/orders/inventory/stock-item.aggregate.js';
import { paymentAccount } from '../../domain/orders/payment/payment-account.aggregate.js';
import { orderStatus } from '../../projections/order-status/order-status.projection.js';
import { documentedCurls, runDocumentedCurls } from './support/bank-service.js';
import { graphql } from './support/likes-service.js';
import { orderDocuments, ordersService } from './support/orders-service.js';

const orders = await ordersService('gql_orders_docs');

// docs/graphql.md shows the order flow with curl: the commands run as written (with the
// real curl) and print what the page shows; then the order process confirms the order,
// as the page says it will.
it('the order flow’s curl examples in docs/graphql.md answer what the page shows', { timeout: 120_000 }, async () => {
  for (const [sku, quantity] of [['pen', 10], ['ink', 5]] as const) {
    await handleCommand(orders.store, stockItem, sku, { type: 'ReceiveStock', data: { sku, quantity } });
  }
  await handleCommand(orders.store, paymentAccount, 'ada', { type: 'OpenPaymentAccount', data: { payer: 'ada', creditLimit: 100_000 } });
  const url = await orders.start();
  const examples = documentedCurls(await readFile('docs/graphql.md', 'utf8'), '### Order flow');
  expect(examples.length).toBe(2);
  // The projection runs, the order process not yet: the query's answer is the page's.
  const projection = runProjections(orders.store, [orderStatus], { pollIntervalMs: 5_000 });
  try {
    await projection.ready;
    expect(await runDocumentedCurls(url, examples)).toEqual(examples.map((example) => example.answer));
  } finally {
    await projection.stop();
  }

  await orders.settle(async () => {
    const answer = await graphql(url, orderDocuments.order, { id: 'o-1' });
    expect(answer.data).toMatchObject({ order: { status: 'confirmed', history: [{ status: 'placed' }, { status: 'stock_reserved' }, { status: 'confirmed' }] } });
  });
});
