import { DomainError, type CommandInput, type DomainEvent } from 'annals';
import fc from 'fast-check';
import { bankAccount, bankAccountCommands, maxAmount, type BankAccountState } from '../../../domain/bank-account/index.js';

export type AccountCommand = CommandInput<typeof bankAccountCommands>;
export type AccountEvent = DomainEvent<typeof bankAccount.events>;

/** Small amounts make withdrawals succeed and fail; rare huge ones probe the limits. */
const amount = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 300 }), weight: 9 },
  { arbitrary: fc.integer({ min: 1, max: maxAmount }), weight: 1 },
);
const open: AccountCommand = { type: 'OpenAccount', data: { accountId: 'acc', owner: 'ada' } };
const command: fc.Arbitrary<AccountCommand> = fc.oneof(
  { arbitrary: fc.constant(open), weight: 1 },
  { arbitrary: amount.map((value): AccountCommand => ({ type: 'DepositMoney', data: { amount: value } })), weight: 5 },
  { arbitrary: amount.map((value): AccountCommand => ({ type: 'WithdrawMoney', data: { amount: value } })), weight: 5 },
  { arbitrary: fc.constant<AccountCommand>({ type: 'CloseAccount', data: {} }), weight: 1 },
);

/**
 * Random command sequences, most of them starting with OpenAccount so that money moves;
 * they include commands that break every rule.
 */
export const commandSequences = (maxLength: number) =>
  fc
    .tuple(fc.nat(9), fc.array(command, { maxLength }))
    .map(([dice, commands]) => (dice === 0 ? commands : [open, ...commands]));

export interface Step {
  command: AccountCommand;
  /** The state `decide` was given. */
  before: BankAccountState;
  /** What it decided: events, or the code of the DomainError it threw. */
  events: AccountEvent[];
  refused: string | null;
}

/**
 * Runs commands through the aggregate's own pipeline without a database: parse the
 * command, decide on the current state, validate the events, evolve. A rule broken
 * leaves the state as it was; any error other than a DomainError fails the test.
 */
export function runCommands(commands: readonly AccountCommand[]): { steps: Step[]; state: BankAccountState } {
  const steps: Step[] = [];
  let state = bankAccount.initialState();
  for (const input of commands) {
    const command = bankAccount.commandSchema.parse(input);
    const before = state;
    try {
      const decided = [bankAccount.decide(command, state)].flat();
      const events = bankAccount.eventCodec
        .encode(decided, () => ({}), () => undefined)
        .map((event) => ({ type: event.type, data: event.data }) as AccountEvent);
      steps.push({ command: input, before, events, refused: null });
      state = events.reduce(bankAccount.evolve, state);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      steps.push({ command: input, before, events: [], refused: error.code });
    }
  }
  return { steps, state };
}

/** The state rebuilt from events alone, as a replay from the store would. */
export const replay = (events: readonly AccountEvent[], from: BankAccountState = bankAccount.initialState()) =>
  events.reduce(bankAccount.evolve, from);

/** Through JSON and back: what the store would hand back for these values. */
export const stored = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
