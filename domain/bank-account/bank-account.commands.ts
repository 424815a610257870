import { z } from 'zod';
import { amountSchema } from './bank-account.events.js';

/**
 * What a client may ask of a bank account. Parsed by `handleCommand` before `decide`
 * runs, so a malformed amount is a ValidationError naming `command.data.amount`, never
 * a domain decision.
 */
export const bankAccountCommands = {
  OpenAccount: z.object({
    accountId: z.string().min(1).max(100),
    // Trimmed so that ' ada ' and 'ada' are one owner.
    owner: z.string().trim().min(1).max(200),
  }),
  DepositMoney: z.object({ amount: amountSchema }),
  WithdrawMoney: z.object({ amount: amountSchema }),
  CloseAccount: z.object({}),
};
