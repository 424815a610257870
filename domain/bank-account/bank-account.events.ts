import { z } from 'zod';

/**
 * Largest amount one deposit or withdrawal may move, in minor units (cents): ten billion
 * in major units. Far above any real payment, so it only stops typos and garbage input.
 */
export const maxAmount = 1_000_000_000_000;

/**
 * Largest balance an account may hold, in minor units. Balances are JavaScript numbers
 * rebuilt by adding up events; below 2^53 every sum is exact, so no replay can ever
 * round a balance. This limit keeps a wide margin under that.
 */
export const maxBalance = 1_000_000_000_000_000;

/** An amount of money in minor units: a whole, positive number of cents. */
export const amountSchema = z.number().int().positive().max(maxAmount);

/**
 * The events of a bank account, in the past tense: what has happened and can no longer
 * be refused. The balance is never stored; it is the sum of deposits minus withdrawals.
 */
export const bankAccountEvents = {
  /**
   * The owner's name is personal data of the account holder, whose id is the account's:
   * stored encrypted with their key, and read as '[erased]' once they are forgotten
   * (docs/privacy.md).
   */
  AccountOpened: z
    .object({ accountId: z.string().min(1).max(100), owner: z.string().min(1).max(200).meta({ personal: true }) })
    .meta({ dataSubject: 'accountId' }),
  MoneyDeposited: z.object({ amount: amountSchema }),
  MoneyWithdrawn: z.object({ amount: amountSchema }),
  /** Final: a closed account accepts nothing more (see bank-account.aggregate.ts). */
  AccountClosed: z.object({}),
};
