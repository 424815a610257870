import { z } from 'zod';
import { orderLine } from './order.events.js';

const orderId = z.string().min(1).max(200);

export const orderCommands = {
  PlaceOrder: z.object({
    orderId,
    customerId: z.string().min(1).max(200),
    // One line per sku: two lines for one sku would be reserved and priced twice.
    lines: z
      .array(orderLine)
      .min(1)
      .refine((lines) => new Set(lines.map((line) => line.sku)).size === lines.length, { error: 'must list each sku once' })
      // The total (cents) must stay an exact integer: refused here, named by the lines the
      // client sent, rather than as the event's total that the client never saw.
      .refine((lines) => Number.isSafeInteger(lines.reduce((total, line) => total + line.quantity * line.unitPrice, 0)), {
        error: `must total at most ${Number.MAX_SAFE_INTEGER} cents`,
      }),
  }),
  /** Sent by the order process once the inventory reserved the stock. */
  MarkOrderStockReserved: z.object({ orderId, reservationId: z.string().min(1).max(200) }),
  /** Sent by the order process once the payment is authorized. */
  ConfirmOrder: z.object({ orderId, paymentId: z.string().min(1).max(200) }),
  /** Sent when a step of the order process failed (no stock, payment declined). */
  CancelOrder: z.object({ orderId, reason: z.string().min(1).max(500) }),
};
