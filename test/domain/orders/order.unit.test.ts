import { aggregateSpec } from 'annals/testing';
import { describe, it } from 'vitest';
import { ValidationError } from '../../../src/index.js';
import { order, OrderAlreadyPlaced, OrderNotFound, OrderStatusConflict } from '../../../domain/orders/order/order.aggregate.js';

const spec = aggregateSpec(order);
const lines = [
  { sku: 'pen', quantity: 2, unitPrice: 150 },
  { sku: 'ink', quantity: 1, unitPrice: 899 },
];
const placed = { type: 'OrderPlaced', data: { orderId: 'o-1', customerId: 'ada', lines, total: 1199 } } as const;
const stockReserved = { type: 'OrderStockReserved', data: { orderId: 'o-1', reservationId: 'r-1' } } as const;
const confirmed = { type: 'OrderConfirmed', data: { orderId: 'o-1', paymentId: 'p-1' } } as const;
const cancelled = { type: 'OrderCancelled', data: { orderId: 'o-1', reason: 'out of stock' } } as const;

const confirm = { type: 'ConfirmOrder', data: { orderId: 'o-1', paymentId: 'p-1' } } as const;
const cancel = { type: 'CancelOrder', data: { orderId: 'o-1', reason: 'out of stock' } } as const;
const markReserved = { type: 'MarkOrderStockReserved', data: { orderId: 'o-1', reservationId: 'r-1' } } as const;

describe('placing an order', () => {
  it('records the lines and the total in cents', () => {
    spec.given([]).when({ type: 'PlaceOrder', data: { orderId: 'o-1', customerId: 'ada', lines } }).then([placed]);
  });

  it('refuses an order id placed before', () => {
    spec
      .given([placed])
      .when({ type: 'PlaceOrder', data: { orderId: 'o-1', customerId: 'ada', lines } })
      .thenThrows(OrderAlreadyPlaced, { code: 'ORDER_ALREADY_PLACED' });
  });

  it('refuses a sku listed twice, and a free line', () => {
    spec
      .given([])
      .when({ type: 'PlaceOrder', data: { orderId: 'o-1', customerId: 'ada', lines: [lines[0]!, lines[0]!] } })
      .thenThrows(ValidationError, { field: 'command.data.lines' });
    spec
      .given([])
      .when({ type: 'PlaceOrder', data: { orderId: 'o-1', customerId: 'ada', lines: [{ sku: 'pen', quantity: 1, unitPrice: 0 }] } })
      .thenThrows(ValidationError, { field: 'command.data.lines[0].unitPrice' });
  });
});

describe('moving an order through the process', () => {
  it('placed, then stock reserved, then confirmed', () => {
    spec.given([placed]).when(markReserved).then([stockReserved]);
    spec.given([placed, stockReserved]).when(confirm).then([confirmed]);
  });

  it('cancels an open order, with the reason', () => {
    spec.given([placed]).when(cancel).then([cancelled]);
    spec.given([placed, stockReserved]).when(cancel).then([cancelled]);
  });

  it('does not confirm an order whose stock is not reserved', () => {
    spec.given([placed]).when(confirm).thenThrows(OrderStatusConflict, { code: 'ORDER_STATUS_CONFLICT', details: { orderId: 'o-1', status: 'placed', command: 'ConfirmOrder' } });
  });

  it('never changes a final order: no second confirmation, no confirmation after cancelling, no cancelling after confirming', () => {
    const final = [
      [placed, stockReserved, confirmed],
      [placed, cancelled],
      [placed, stockReserved, cancelled],
    ] as const;
    for (const history of final) {
      for (const command of [markReserved, confirm, cancel]) {
        spec.given(history).when(command).thenThrows(OrderStatusConflict);
      }
    }
  });

  it('refuses every step for an order never placed', () => {
    for (const command of [markReserved, confirm, cancel]) {
      spec.given([]).when(command).thenThrows(OrderNotFound, { code: 'ORDER_NOT_FOUND' });
    }
  });
});
