import type { Command } from '../../src/index.js';
import type { bankAccountCommands } from '../../domain/bank-account/index.js';

/** A bank-account command as the domain's `decide` takes it. */
export type BankCommand = Command<typeof bankAccountCommands>;

/**
 * What every contestant of the command figures implements: the bank account of
 * domain/bank-account, handled the way that contestant handles commands (load the
 * stream, decide, append expecting the version loaded). Accounts are named by id; each
 * contestant maps an id to its stream `account-<id>`.
 */
export interface BankContestant {
  /** Handles one command; throws what the command handler throws (conflict, domain rule). */
  handle(id: string, command: BankCommand): Promise<void>;
  /** Loads an account as the command handler does before deciding. */
  load(id: string): Promise<{ version: number; balance: number }>;
  /**
   * Writes a stream of exactly `length` events for the load-time figure, fast (batched
   * appends), leaving it as the contestant's own command handling would have (with a
   * snapshot where its policy writes one). Setup only, not measured.
   */
  fill(id: string, length: number): Promise<void>;
  /** What went wrong, in a word the report can count: 'version conflict', 'domain rule', ... */
  failureKind(error: unknown): string;
  close(): Promise<void>;
}

/**
 * Balance every account starts with: no withdrawal of a run can ever be refused, so a
 * failure is always a conflict, never the balance check (which still runs every time).
 */
export const openingDeposit = 1_000_000_000;

/** Amount of every deposit and withdrawal of the measured commands. */
export const commandAmount = 10;

/** Opens account `id` through the contestant's own command handling (not measured). */
export async function openAccount(contestant: BankContestant, id: string): Promise<void> {
  await contestant.handle(id, { type: 'OpenAccount', data: { accountId: id, owner: `owner-${id}` } });
  await contestant.handle(id, { type: 'DepositMoney', data: { amount: openingDeposit } });
}

/** The events of a filled stream: the opening, then deposits of 1 (its balance is length - 1). */
export function fillEvent(id: string, version: number) {
  return version === 1
    ? ({ type: 'AccountOpened', data: { accountId: id, owner: `owner-${id}` } } as const)
    : ({ type: 'MoneyDeposited', data: { amount: 1 } } as const);
}

/** Events per append while filling a long stream. */
export const fillBatch = 10_000;

/** The name of an error, for errors whose class name is all there is to say. */
export function errorName(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown error';
  return error.name !== 'Error' ? error.name : error.constructor.name.replace(/^_+/, '');
}
