import { randomBytes } from 'node:crypto';
import { handleCommand, loadAggregate, type EventStore, type RecordedEvent } from '../../../../src/index.js';
import { availableStock, stockItem } from '../../../../domain/orders/inventory/stock-item.aggregate.js';
import { isFinal, order, type OrderState } from '../../../../domain/orders/order/order.aggregate.js';
import type { OrderLine } from '../../../../domain/orders/order/order.events.js';
import { paymentAccount } from '../../../../domain/orders/payment/payment-account.aggregate.js';

/** A short random suffix: each test gets its own skus, payers and orders in the shared schema. */
export const unique = () => randomBytes(3).toString('hex');

export async function receiveStock(store: EventStore, sku: string, quantity: number): Promise<void> {
  await handleCommand(store, stockItem, sku, { type: 'ReceiveStock', data: { sku, quantity } });
}

export async function openPaymentAccount(store: EventStore, payer: string, creditLimit: number): Promise<void> {
  await handleCommand(store, paymentAccount, payer, { type: 'OpenPaymentAccount', data: { payer, creditLimit } });
}

export async function placeOrder(store: EventStore, orderId: string, customerId: string, lines: OrderLine[]): Promise<void> {
  await handleCommand(store, order, orderId, { type: 'PlaceOrder', data: { orderId, customerId, lines }, id: `place-${orderId}` });
}

export async function orderState(store: EventStore, orderId: string): Promise<OrderState> {
  return (await loadAggregate(store, order, orderId)).state;
}

/** Throws unless every order is confirmed or cancelled: for `eventually`. */
export async function expectAllFinal(store: EventStore, orderIds: readonly string[]): Promise<void> {
  for (const orderId of orderIds) {
    const { status } = await orderState(store, orderId);
    if (!isFinal(status)) throw new Error(`order ${orderId} is still ${status}`);
  }
}

export async function stockOf(store: EventStore, sku: string): Promise<{ onHand: number; available: number }> {
  const { state } = await loadAggregate(store, stockItem, sku);
  return { onHand: state.onHand, available: availableStock(state) };
}

export async function eventsOf(store: EventStore, streamId: string): Promise<RecordedEvent[]> {
  return store.readStream(streamId);
}

export async function typesOf(store: EventStore, streamId: string): Promise<string[]> {
  return (await store.readStream(streamId)).map((event) => event.type);
}

/**
 * Every event of the schema, counted in the table itself: unlike readAll, not held back
 * by transactions still open elsewhere on the server.
 */
export async function countEvents(store: EventStore): Promise<number> {
  const [row] = await store.withTransaction((tx) => tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${store.schema}".events`));
  return row!.n;
}

/** Global position of the newest event of these types (0n: none). */
export async function lastPositionOf(store: EventStore, types: readonly string[]): Promise<bigint> {
  const [row] = await store.withTransaction((tx) =>
    tx.query<{ last: string | null }>(`SELECT max(global_position)::text AS last FROM "${store.schema}".events WHERE type = ANY($1)`, [types]),
  );
  return BigInt(row!.last ?? 0);
}

/** The event types the order process reacts to. */
export const reactedTypes = ['OrderPlaced', 'StockReserved', 'StockReservationFailed', 'PaymentAuthorized', 'PaymentDeclined'];
