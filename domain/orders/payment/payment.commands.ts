import { z } from 'zod';

const payer = z.string().min(1).max(200);

export const paymentAccountCommands = {
  OpenPaymentAccount: z.object({ payer, creditLimit: z.number().int().nonnegative() }),
  AuthorizePayment: z.object({ paymentId: z.string().min(1).max(200), payer, amount: z.number().int().positive() }),
};
