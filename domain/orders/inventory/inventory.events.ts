import { z } from 'zod';

const sku = z.string().min(1).max(200);
const reservationId = z.string().min(1).max(200);
const quantity = z.number().int().positive();

export const reservationLine = z.object({ sku, quantity });
export type ReservationLine = z.infer<typeof reservationLine>;

/** A sku that could not be reserved: how many were asked for and how many were free. */
export const shortage = z.object({ sku, requested: quantity, available: z.number().int().nonnegative() });
export type Shortage = z.infer<typeof shortage>;

/** Events of one sku's stock (stream `stock-<sku>`). */
export const stockItemEvents = {
  /** Goods arrived: `quantity` more units on hand. */
  StockReceived: z.object({ sku, quantity }),
  /** `quantity` units set aside for a reservation: no longer available to others. */
  StockHeld: z.object({ sku, reservationId, quantity }),
  /** A reservation's hold ended: its units are available again. */
  StockHoldReleased: z.object({ sku, reservationId, quantity }),
};

/** Events of one reservation of several skus (stream `stock_reservation-<reservationId>`). */
export const stockReservationEvents = {
  /** Every line is held, all or nothing. */
  StockReserved: z.object({ reservationId, lines: z.array(reservationLine).min(1) }),
  /** Nothing was held: at least one sku had too few units available. */
  StockReservationFailed: z.object({
    reservationId,
    lines: z.array(reservationLine).min(1),
    shortages: z.array(shortage).min(1),
  }),
  /** The holds of a reservation ended (the goods were not needed after all). */
  StockReleased: z.object({ reservationId, lines: z.array(reservationLine).min(1) }),
};
