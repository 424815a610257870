import { defineAggregate, DomainError } from 'annals';
import { orderCommands } from './order.commands.js';
import { orderEvents, type OrderLine } from './order.events.js';

/**
 * Where an order is in its life. `placed` and `stock_reserved` are open (the order
 * process is still working on them); `confirmed` and `cancelled` are final.
 */
export type OrderStatus = 'none' | 'placed' | 'stock_reserved' | 'confirmed' | 'cancelled';

/** An order id can be placed once; placing it again is a client bug, not a retry. */
export class OrderAlreadyPlaced extends DomainError {
  constructor(orderId: string) {
    super('ORDER_ALREADY_PLACED', `order ${orderId} was placed before`, { orderId });
  }
}

/** A command for an order that was never placed. */
export class OrderNotFound extends DomainError {
  constructor(orderId: string) {
    super('ORDER_NOT_FOUND', `order ${orderId} was never placed`, { orderId });
  }
}

/**
 * The command does not fit the order's status: confirming an order whose stock is not
 * reserved, cancelling a confirmed one… `details.status` is the status it was in.
 */
export class OrderStatusConflict extends DomainError {
  constructor(orderId: string, status: OrderStatus, command: string) {
    super('ORDER_STATUS_CONFLICT', `order ${orderId} is ${status}: ${command} is not allowed`, { orderId, status, command });
  }
}

export interface OrderState {
  orderId: string | null;
  customerId: string | null;
  lines: OrderLine[];
  /** In cents. */
  total: number;
  status: OrderStatus;
  reservationId: string | null;
  paymentId: string | null;
  cancellationReason: string | null;
}

/** The commands allowed in each status; anything else is an {@link OrderStatusConflict}. */
const allowedIn: Record<Exclude<keyof typeof orderCommands, 'PlaceOrder'>, readonly OrderStatus[]> = {
  MarkOrderStockReserved: ['placed'],
  ConfirmOrder: ['stock_reserved'],
  CancelOrder: ['placed', 'stock_reserved'],
};

/**
 * An order: stream `order-<orderId>`. It knows its lines, total and status; it does not
 * know how stock or payment work. The order process manager moves it forward with
 * MarkOrderStockReserved, ConfirmOrder and CancelOrder, and this aggregate makes sure
 * the moves happen in order: never confirmed twice, never confirmed after a
 * cancellation, never cancelled once confirmed.
 *
 * @example
 * ```ts
 * await handleCommand(store, order, 'o-1', {
 *   type: 'PlaceOrder',
 *   data: { orderId: 'o-1', customerId: 'ada', lines: [{ sku: 'pen', quantity: 2, unitPrice: 150 }] },
 *   id: requestId,
 * });
 * ```
 */
export const order = defineAggregate({
  category: 'order',
  initialState: (): OrderState => ({
    orderId: null,
    customerId: null,
    lines: [],
    total: 0,
    status: 'none',
    reservationId: null,
    paymentId: null,
    cancellationReason: null,
  }),
  events: orderEvents,
  commands: orderCommands,
  evolve: (state, event): OrderState => {
    switch (event.type) {
      case 'OrderPlaced':
        return { ...state, ...event.data, status: 'placed' };
      case 'OrderStockReserved':
        return { ...state, status: 'stock_reserved', reservationId: event.data.reservationId };
      case 'OrderConfirmed':
        return { ...state, status: 'confirmed', paymentId: event.data.paymentId };
      case 'OrderCancelled':
        return { ...state, status: 'cancelled', cancellationReason: event.data.reason };
    }
  },
  decide: (command, state) => {
    const { orderId } = command.data;
    if (command.type === 'PlaceOrder') {
      if (state.status !== 'none') throw new OrderAlreadyPlaced(orderId);
      const total = command.data.lines.reduce((sum, line) => sum + line.quantity * line.unitPrice, 0);
      return { type: 'OrderPlaced', data: { ...command.data, total } };
    }
    if (state.status === 'none') throw new OrderNotFound(orderId);
    if (!allowedIn[command.type].includes(state.status)) throw new OrderStatusConflict(orderId, state.status, command.type);
    switch (command.type) {
      case 'MarkOrderStockReserved':
        return { type: 'OrderStockReserved', data: command.data };
      case 'ConfirmOrder':
        return { type: 'OrderConfirmed', data: command.data };
      case 'CancelOrder':
        return { type: 'OrderCancelled', data: command.data };
    }
  },
});

/** True once the order will not change any more. */
export function isFinal(status: OrderStatus): boolean {
  return status === 'confirmed' || status === 'cancelled';
}
