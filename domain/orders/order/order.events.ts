import { z } from 'zod';

/** Amounts are whole cents: sums of floats would not add up to the cent. */
export const cents = z.number().int().nonnegative();

export const orderLine = z.object({
  sku: z.string().min(1).max(200),
  quantity: z.number().int().positive(),
  /**
   * Price of one unit, in cents. Positive: the order process always asks for a
   * payment, and a payment of 0 is not a payment.
   */
  unitPrice: z.number().int().positive(),
});

export type OrderLine = z.infer<typeof orderLine>;

export const orderEvents = {
  /** A customer placed an order; `total` (cents) is fixed here, once. */
  OrderPlaced: z.object({
    orderId: z.string().min(1),
    customerId: z.string().min(1),
    lines: z.array(orderLine).min(1),
    total: cents,
  }),
  /** Stock for every line is set aside under `reservationId`. */
  OrderStockReserved: z.object({ orderId: z.string().min(1), reservationId: z.string().min(1) }),
  /** Paid for and stock reserved: the order will be fulfilled. */
  OrderConfirmed: z.object({ orderId: z.string().min(1), paymentId: z.string().min(1) }),
  /** The order will not be fulfilled; `reason` says why, for the customer and support. */
  OrderCancelled: z.object({ orderId: z.string().min(1), reason: z.string().min(1) }),
};
