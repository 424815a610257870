/**
 * The order process: what happens after an order is placed, step by step, across three
 * modules that each speak their own language.
 *
 * ```
 * OrderPlaced             -> inventory: reserve the lines             (reserveStock)
 * StockReserved           -> order: MarkOrderStockReserved; payment: AuthorizePayment
 * StockReservationFailed  -> order: CancelOrder
 * PaymentAuthorized       -> order: ConfirmOrder
 * PaymentDeclined         -> inventory: release the stock (compensation); order: CancelOrder
 * ```
 *
 * Inventory and payment know nothing about orders. The process keeps no state of its
 * own; it relies on three things:
 *
 * - **Ids derived from the order.** The reservation and the payment of order `42` are
 *   both `order-42`, so any step can name them (the compensation needs the reservation
 *   id) without remembering anything.
 * - **Correlation.** Every command it sends carries the correlation id `order-42`, which
 *   `handleCommand` stamps on the events the command causes. That is how a
 *   StockReserved or PaymentDeclined is traced back to its order; events of other
 *   correlations (a reservation made by hand, say) are not the process's business.
 * - **Idempotent steps.** Each command's id derives from the event that triggered it
 *   (`<event id>:reserve-stock`), so a redelivered event appends nothing twice: the
 *   commands answer with what they did the first time. Running the log again from the
 *   start (a consumer of another name) is harmless.
 *
 * It runs on the log-consumer engine (`defineConsumer`, `runConsumers`): each batch's
 * commands commit in one transaction with the checkpoint, so a crash loses nothing and
 * repeats nothing that committed; its partitions (by order) are shared between the
 * processes running it, under leases, and taken over when one dies; an event whose step
 * keeps failing is retried with backoff, then dead-lettered, and the others go on.
 */
import {
  categoryOf,
  defineConsumer,
  handleCommand,
  type Consumer,
  type EventStoreTransaction,
  type HandleCommandOptions,
  type RecordedEvent,
} from 'annals';
import { setTimeout as delay } from 'node:timers/promises';
import { releaseStock, reserveStock } from './inventory/reservations.js';
import { stockReservation } from './inventory/stock-reservation.aggregate.js';
import { order } from './order/order.aggregate.js';
import { paymentAccount } from './payment/payment-account.aggregate.js';

/**
 * The consumer name this process manager runs under: its checkpoints, leases and dead
 * letters are kept by that name.
 *
 * @example
 * ```ts
 * const { partitions } = await consumerStatus(store, [{ name: orderProcessManagerName }]);
 * ```
 */
export const orderProcessManagerName = 'order-process-manager';

/**
 * The correlation id of everything the process does for one order: the order's stream id.
 *
 * @example
 * ```ts
 * orderProcessId('42'); // 'order-42'
 * ```
 */
export function orderProcessId(orderId: string): string {
  return order.streamId(orderId);
}

/**
 * The id of the stock reservation made for an order.
 *
 * @example
 * ```ts
 * await store.readStream(stockReservation.streamId(reservationIdFor('42'))); // stream 'stock_reservation-order-42'
 * ```
 */
export const reservationIdFor = orderProcessId;

/**
 * The id of the payment asked for an order (on the customer's payment account).
 *
 * @example
 * ```ts
 * paymentIdFor('42'); // 'order-42'
 * ```
 */
export const paymentIdFor = orderProcessId;

type Reaction = (tx: EventStoreTransaction, event: RecordedEvent) => Promise<void>;

const reactions: Record<string, Reaction> = {
  OrderPlaced: async (tx, event) => {
    const { data } = decode(order, event, 'OrderPlaced');
    await reserveStock(
      tx,
      { reservationId: reservationIdFor(data.orderId), lines: data.lines.map(({ sku, quantity }) => ({ sku, quantity })) },
      { commandId: commandId(event, 'reserve-stock'), correlationId: orderProcessId(data.orderId) },
    );
  },

  StockReserved: async (tx, event) => {
    const { data } = decode(stockReservation, event, 'StockReserved');
    const orderId = orderOf(event, data.reservationId, reservationIdFor);
    if (orderId === null) return;
    const { state } = await handleCommand(
      tx,
      order,
      orderId,
      { type: 'MarkOrderStockReserved', data: { orderId, reservationId: data.reservationId }, id: commandId(event, 'mark-stock-reserved') },
      correlated(orderId),
    );
    const payer = state.customerId!; // set by OrderPlaced, which MarkOrderStockReserved requires
    await handleCommand(
      tx,
      paymentAccount,
      payer,
      { type: 'AuthorizePayment', data: { paymentId: paymentIdFor(orderId), payer, amount: state.total }, id: commandId(event, 'authorize-payment') },
      correlated(orderId),
    );
  },

  StockReservationFailed: async (tx, event) => {
    const { data } = decode(stockReservation, event, 'StockReservationFailed');
    const orderId = orderOf(event, data.reservationId, reservationIdFor);
    if (orderId === null) return;
    // Nothing was held (reservations are all or nothing): there is nothing to compensate.
    const missing = data.shortages.map((s) => `${s.sku} (${s.requested} wanted, ${s.available} available)`).join(', ');
    await handleCommand(
      tx,
      order,
      orderId,
      { type: 'CancelOrder', data: { orderId, reason: `out of stock: ${missing}` }, id: commandId(event, 'cancel-order') },
      correlated(orderId),
    );
  },

  PaymentAuthorized: async (tx, event) => {
    const { data } = decode(paymentAccount, event, 'PaymentAuthorized');
    const orderId = orderOf(event, data.paymentId, paymentIdFor);
    if (orderId === null) return;
    await handleCommand(
      tx,
      order,
      orderId,
      { type: 'ConfirmOrder', data: { orderId, paymentId: data.paymentId }, id: commandId(event, 'confirm-order') },
      correlated(orderId),
    );
  },

  PaymentDeclined: async (tx, event) => {
    const { data } = decode(paymentAccount, event, 'PaymentDeclined');
    const orderId = orderOf(event, data.paymentId, paymentIdFor);
    if (orderId === null) return;
    // Compensation: the stock held for this order goes back on sale.
    await releaseStock(
      tx,
      { reservationId: reservationIdFor(orderId) },
      { commandId: commandId(event, 'release-stock'), correlationId: orderProcessId(orderId) },
    );
    await handleCommand(
      tx,
      order,
      orderId,
      { type: 'CancelOrder', data: { orderId, reason: `payment declined: ${data.reason}` }, id: commandId(event, 'cancel-order') },
      correlated(orderId),
    );
  },
};

/** The categories and types the process reads: only events it reacts to. */
const categories = [order.category, stockReservation.category, paymentAccount.category];
const types = Object.keys(reactions);

export interface OrderProcessManagerOptions {
  /** The consumer name (default {@link orderProcessManagerName}); a new name goes through the log from the start. */
  name?: string;
  /** Partitions, shared between the processes running it (default 4). Fixed once it has run in a store. */
  partitions?: number;
  /** Most events handled per transaction (default 100). */
  batchSize?: number;
  /** A pause after each event, inside its batch, to cap the rate of commands sent (default 0). */
  throttleMs?: number;
}

/**
 * The order process manager as a consumer of the global log: run it with
 * `runConsumers(store, [orderProcessManager()])`. Events of one order stay in one
 * partition, in log order: the key is the order the event belongs to.
 *
 * @example
 * ```ts
 * const runner = runConsumers(store, [orderProcessManager()], { logger: pino() });
 * process.once('SIGTERM', () => runner.stop());
 * ```
 */
export function orderProcessManager(options: OrderProcessManagerOptions = {}): Consumer<'transaction'> {
  const throttleMs = options.throttleMs ?? 0;
  return defineConsumer({
    name: options.name ?? orderProcessManagerName,
    categories,
    eventTypes: types,
    partitions: options.partitions ?? 4,
    partitionKey: orderKey,
    batchSize: options.batchSize ?? 100,
    // Its steps are commands: the batch's transaction appends them, with the checkpoint.
    appends: true,
    handle: async (events, { tx }) => {
      for (const event of events) {
        await reactions[event.type]!(tx, event);
        if (throttleMs > 0) await delay(throttleMs);
      }
    },
  });
}

/**
 * The partition key: the order an event belongs to. An order's own events carry it as
 * their stream; inventory and payment events carry it as their correlation id. Anything
 * else (a reservation made by hand) keeps its stream, and the process ignores it.
 */
function orderKey(event: RecordedEvent): string {
  const correlationId = event.metadata.correlationId;
  if (categoryOf(event.streamId) !== order.category && typeof correlationId === 'string' && correlationId.startsWith(`${order.category}-`)) {
    return correlationId;
  }
  return event.streamId;
}

function commandId(event: RecordedEvent, step: string): string {
  return `${event.id}:${step}`;
}

function correlated(orderId: string): HandleCommandOptions {
  return { correlationId: orderProcessId(orderId) };
}

/**
 * The order an inventory or payment event belongs to, from its correlation id; `null`
 * when it belongs to no order process (or not to the step this process asked for).
 */
function orderOf(event: RecordedEvent, id: string, idFor: (orderId: string) => string): string | null {
  const correlationId = event.metadata.correlationId;
  const prefix = `${order.category}-`;
  if (typeof correlationId !== 'string' || !correlationId.startsWith(prefix)) return null;
  const orderId = correlationId.slice(prefix.length);
  return idFor(orderId) === id ? orderId : null;
}

/** The event in its current shape, typed as the one event type this reaction handles. */
function decode<A extends typeof order | typeof stockReservation | typeof paymentAccount, T extends string>(
  aggregate: A,
  event: RecordedEvent,
  type: T,
): Extract<ReturnType<A['eventCodec']['decode']>, { type: T }> {
  if (categoryOf(event.streamId) !== aggregate.category || event.type !== type) {
    throw new TypeError(`expected a ${type} of ${aggregate.category}, got ${event.type} in ${event.streamId}`);
  }
  return aggregate.eventCodec.decode(event) as Extract<ReturnType<A['eventCodec']['decode']>, { type: T }>;
}
