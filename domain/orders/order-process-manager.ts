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
 *   commands answer with what they did the first time. Each event is handled in one
 *   transaction with the checkpoint, so a crash loses neither and repeats nothing that
 *   committed; running the log again from the start is harmless too.
 */
import {
  categoryOf,
  handleCommand,
  StoreClosedError,
  type EventStore,
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
 * The checkpoint this process manager resumes from.
 *
 * @example
 * ```ts
 * const position = await store.readCheckpoint(orderProcessManagerName);
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

export interface ProcessBatchOptions {
  /** Most events read (and handled) per call; default 100. */
  batchSize?: number;
  /**
   * The checkpoint to resume from and save; default {@link orderProcessManagerName}. A new
   * name goes through the log from the start (a replay, which appends nothing twice).
   */
  checkpointName?: string;
  /** Once aborted, stops after the event in progress. */
  signal?: AbortSignal;
  /** Called after each event, once its transaction committed. */
  onProcessed?: (event: RecordedEvent) => void | Promise<void>;
}

/**
 * Handles the events after the checkpoint, up to `batchSize`, each in its own transaction
 * with the checkpoint. Returns how many it handled: 0 when there is nothing new that a
 * reader can see yet (docs/global-log.md: events appear once older transactions end).
 *
 * @throws whatever a step throws (a DomainError here means the process and an order
 *   disagree, a bug or a manual change); the checkpoint stays before that event.
 *
 * @example
 * ```ts
 * while ((await processBatch(store)) > 0);
 * ```
 */
export async function processBatch(store: EventStore, options: ProcessBatchOptions = {}): Promise<number> {
  const name = options.checkpointName ?? orderProcessManagerName;
  const after = await store.readCheckpoint(name);
  const events = await store.readAll({ after, categories, types, limit: options.batchSize ?? 100 });
  let processed = 0;
  for (const event of events) {
    if (options.signal?.aborted) break;
    await store.withTransaction(async (tx) => {
      await reactions[event.type]!(tx, event);
      await tx.saveCheckpoint(name, event.globalPosition);
    });
    processed++;
    await options.onProcessed?.(event);
  }
  return processed;
}

export interface RunOptions extends Omit<ProcessBatchOptions, 'signal'> {
  /** Abort to stop: the loop ends after the event in progress, without waiting out a poll. */
  signal: AbortSignal;
  /** Wait between reads when there is nothing new; default 500 ms. */
  pollMs?: number;
  /** Wait after each event, to cap the rate of commands sent; default 0. */
  throttleMs?: number;
  /** Wait after a failed batch before trying again from the checkpoint; default 1,000 ms. */
  retryMs?: number;
  /** Told about each failed batch; default: logged with console.error. */
  onError?: (error: unknown) => void;
}

/**
 * Runs the process manager until `signal` is aborted: handles what is new, waits
 * `pollMs` when there is nothing, and after a failure (a lost connection, say) waits
 * `retryMs` and resumes from the checkpoint. Resolves once stopped; rejects only if
 * the store is closed under it.
 *
 * @example
 * ```ts
 * const stop = new AbortController();
 * process.once('SIGTERM', () => stop.abort());
 * await run(store, { signal: stop.signal, pollMs: 200 });
 * ```
 */
export async function run(store: EventStore, options: RunOptions): Promise<void> {
  const { signal, pollMs = 500, throttleMs = 0, retryMs = 1000, onError = logError, onProcessed, ...batch } = options;
  while (!signal.aborted) {
    let wait: number;
    try {
      const processed = await processBatch(store, {
        ...batch,
        signal,
        onProcessed: async (event) => {
          await onProcessed?.(event);
          if (throttleMs > 0) await pause(throttleMs, signal);
        },
      });
      wait = processed === 0 ? pollMs : 0;
    } catch (error) {
      if (error instanceof StoreClosedError) throw error;
      onError(error);
      wait = retryMs;
    }
    if (wait > 0) await pause(wait, signal);
  }
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

async function pause(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}

function logError(error: unknown): void {
  console.error(`order process manager: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}; retrying`);
}
