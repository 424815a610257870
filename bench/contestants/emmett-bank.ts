import { CommandHandler, isExpectedVersionConflictError, STREAM_DOES_NOT_EXIST } from '@event-driven-io/emmett';
import { bankAccount, type bankAccountEvents, type BankAccountState } from '../../domain/bank-account/index.js';
import { DomainError, type DomainEvent } from '../../src/index.js';
import { errorName, fillBatch, fillEvent, type BankCommand, type BankContestant } from './bank-contestant.js';
import { openEmmettStore, type EmmettStore } from './emmett.js';

/** The bank account's events, in the `{ type, data }` shape Emmett's `Event` has too. */
type BankAccountEvent = DomainEvent<typeof bankAccountEvents>;

/**
 * The decider Emmett runs: the domain's very own `initialState`, `evolve` and `decide`
 * (domain/bank-account), typed for Emmett, so both libraries make the same decisions
 * with the same code. What differs is around them: Annals parses each command and each
 * event with the domain's zod schemas; Emmett takes them as they are.
 */
const initialState = bankAccount.initialState;
const evolve = (state: BankAccountState, event: BankAccountEvent): BankAccountState => bankAccount.evolve(state, event);
const decide = (command: BankCommand, state: BankAccountState): BankAccountEvent[] => {
  const decided = bankAccount.decide(command, state);
  return (Array.isArray(decided) ? [...decided] : [decided]) as BankAccountEvent[];
};

/**
 * Emmett 0.42's `CommandHandler({ evolve, initialState })`, called as
 * `handle(eventStore, 'account-<id>', (state) => decide(command, state))`: it aggregates
 * the whole stream (Emmett has no snapshots), decides, and appends expecting the version
 * it read. By default it does not retry a version conflict: the command fails. With
 * `retryOnConflict`, `retry: { onVersionConflict: true }`, Emmett's own policy: 3
 * retries, 100 ms then x1.5 (no jitter).
 */
export class EmmettBank implements BankContestant {
  readonly #emmett: EmmettStore;
  readonly #handle: ReturnType<typeof CommandHandler<BankAccountState, BankAccountEvent>>;

  private constructor(emmett: EmmettStore, retryOnConflict: boolean) {
    this.#emmett = emmett;
    this.#handle = CommandHandler<BankAccountState, BankAccountEvent>({
      evolve,
      initialState,
      ...(retryOnConflict ? { retry: { onVersionConflict: true } } : {}),
    });
  }

  static async open(connectionString: string, options: { maxConnections: number; retryOnConflict: boolean }): Promise<EmmettBank> {
    return new EmmettBank(await openEmmettStore(connectionString, options.maxConnections), options.retryOnConflict);
  }

  async handle(id: string, command: BankCommand): Promise<void> {
    await this.#handle(this.#emmett.store, `account-${id}`, (state) => decide(command, state));
  }

  /** What the command handler does before deciding: `aggregateStream` with the decider. */
  async load(id: string): Promise<{ version: number; balance: number }> {
    const { state, currentStreamVersion } = await this.#emmett.store.aggregateStream(`account-${id}`, { evolve, initialState });
    return { version: Number(currentStreamVersion), balance: state.balance };
  }

  async fill(id: string, length: number): Promise<void> {
    for (let version = 0; version < length; ) {
      const count = Math.min(fillBatch, length - version);
      const events = Array.from({ length: count }, (_, index) => fillEvent(id, version + index + 1));
      const { nextExpectedStreamVersion } = await this.#emmett.store.appendToStream(`account-${id}`, events, {
        expectedStreamVersion: version === 0 ? STREAM_DOES_NOT_EXIST : BigInt(version),
      });
      version = Number(nextExpectedStreamVersion);
    }
  }

  failureKind(error: unknown): string {
    if (isExpectedVersionConflictError(error)) return 'version conflict';
    if (error instanceof DomainError) return 'domain rule';
    return errorName(error);
  }

  close(): Promise<void> {
    return this.#emmett.close();
  }
}
