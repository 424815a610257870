import { z } from 'zod';
import { reservationLine, shortage } from './inventory.events.js';

const sku = z.string().min(1).max(200);
const reservationId = z.string().min(1).max(200);
const quantity = z.number().int().positive();

/** The lines of one reservation: each sku once, so a sku is never held twice by it. */
export const reservationLines = z
  .array(reservationLine)
  .min(1)
  .refine((lines) => new Set(lines.map((line) => line.sku)).size === lines.length, { error: 'must list each sku once' });

export const stockItemCommands = {
  ReceiveStock: z.object({ sku, quantity }),
  HoldStock: z.object({ sku, reservationId, quantity }),
  ReleaseHold: z.object({ sku, reservationId }),
};

/**
 * Commands of the reservation record. They record a decision taken by
 * {@link reserveStock} over the skus' stock; call that, not these, to reserve.
 */
export const stockReservationCommands = {
  RecordReservation: z.object({ reservationId, lines: reservationLines }),
  RecordReservationFailure: z.object({ reservationId, lines: reservationLines, shortages: z.array(shortage).min(1) }),
  ReleaseReservation: z.object({ reservationId }),
};

/** What {@link reserveStock} is asked: hold these lines under `reservationId`. */
export const reserveStockRequest = z.object({ reservationId, lines: reservationLines });
export type ReserveStockRequest = z.input<typeof reserveStockRequest>;

/** What {@link releaseStock} is asked. */
export const releaseStockRequest = z.object({ reservationId });
export type ReleaseStockRequest = z.input<typeof releaseStockRequest>;
