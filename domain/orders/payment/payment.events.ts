import { z } from 'zod';

const payer = z.string().min(1).max(200);
const paymentId = z.string().min(1).max(200);
/** Whole cents. */
const amount = z.number().int().positive();

/** Why a payment was declined: stable codes a caller can branch on. */
export const declineReason = z.enum(['credit_limit_exceeded', 'no_account']);
export type DeclineReason = z.infer<typeof declineReason>;

export const paymentAccountEvents = {
  /** The payer may have payments authorized up to `creditLimit` cents in total. */
  PaymentAccountOpened: z.object({ payer, creditLimit: z.number().int().nonnegative() }),
  /** `amount` is reserved on the payer's credit for `paymentId`. */
  PaymentAuthorized: z.object({ paymentId, payer, amount }),
  /** The payment was refused; nothing is reserved. */
  PaymentDeclined: z.object({ paymentId, payer, amount, reason: declineReason }),
};
