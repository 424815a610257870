import { createHash } from 'node:crypto';
import type { bankAccount as BankAccount } from '../../domain/bank-account/index.js';
import type { EventStore } from '../../src/index.js';
import { loadAnnals, loadBankDomain, type AnnalsApi } from '../annals-api.js';
import { errorName, fillBatch, fillEvent, type BankCommand, type BankContestant } from './bank-contestant.js';

/** 32 bytes in base64, the same on every run. */
const benchMasterKey = createHash('sha256').update('annals bench:commands master key').digest('base64');

export type AnnalsVariant = 'snapshots' | 'no-snapshots' | 'cached';

/**
 * The domain's bank account as each variant runs it, defined with `annals`' own
 * defineAggregate: as it is (snapshots every 50 events); without its snapshot policy
 * (the same decide and evolve, so the two differ only in snapshots); or with its
 * snapshots and a state cache (docs/aggregates.md).
 */
function bankAccountVariant(annals: AnnalsApi, bankAccount: typeof BankAccount, variant: AnnalsVariant): typeof BankAccount {
  if (variant === 'snapshots') return bankAccount;
  // Less the parts defineAggregate derives again.
  const { eventCodec: _eventCodec, commandSchema: _commandSchema, streamId: _streamId, snapshots, ...definition } = bankAccount;
  const aggregate = variant === 'cached' ? annals.defineAggregate({ ...definition, snapshots: snapshots!, cache: { maxStreams: 10_000 } }) : annals.defineAggregate(definition);
  return aggregate as unknown as typeof BankAccount;
}

/**
 * Annals through its public API: `handleCommand(store, bankAccount, id, command)` with its
 * defaults (10 retries after a ConcurrencyError, jittered backoff from 5 to 500 ms; no
 * command id, as Emmett has none) and `loadAggregate`, on the domain's bankAccount
 * (snapshots every 50 events), on the same aggregate without snapshots, or with a state
 * cache as well.
 */
export class AnnalsBank implements BankContestant {
  readonly #annals: AnnalsApi;
  readonly #store: EventStore;
  readonly #aggregate: typeof BankAccount;

  private constructor(annals: AnnalsApi, store: EventStore, aggregate: typeof BankAccount) {
    this.#annals = annals;
    this.#store = store;
    this.#aggregate = aggregate;
  }

  /**
   * Opens a store on `schema`, creating its tables with the store's own (idempotent)
   * migration. `annalsRoot`: Annals and the domain from another checkout (bench/compare).
   */
  static async open(
    connectionString: string,
    schema: string,
    options: { maxConnections: number; variant: AnnalsVariant; annalsRoot?: string },
  ): Promise<AnnalsBank> {
    const [annals, { bankAccount }] = await Promise.all([loadAnnals(options.annalsRoot), loadBankDomain(options.annalsRoot)]);
    // The account's owner is personal data (docs/privacy.md): the store seals it with keys
    // wrapped by a master key. A fixed one, through the environment (as a deployment sets
    // it), so that checkouts from before the option existed run unchanged (bench/compare).
    process.env.ANNALS_MASTER_KEY ??= benchMasterKey;
    const store = annals.createEventStore({ connectionString, maxConnections: options.maxConnections }, { schema });
    await store.migrate();
    return new AnnalsBank(annals, store, bankAccountVariant(annals, bankAccount, options.variant));
  }

  async handle(id: string, command: BankCommand): Promise<void> {
    await this.#annals.handleCommand(this.#store, this.#aggregate, id, command);
  }

  async load(id: string): Promise<{ version: number; balance: number }> {
    const { state, version } = await this.#annals.loadAggregate(this.#store, this.#aggregate, id);
    return { version, balance: state.balance };
  }

  /**
   * Appends all but the last event in batches, then handles one deposit: handleCommand
   * writes the snapshot when the stream crosses a multiple of 50, as in production.
   */
  async fill(id: string, length: number): Promise<void> {
    const streamId = this.#aggregate.streamId(id);
    for (let version = 0; version < length - 1; ) {
      const count = Math.min(fillBatch, length - 1 - version);
      const events = Array.from({ length: count }, (_, index) => fillEvent(id, version + index + 1));
      ({ nextExpectedVersion: version } = await this.#store.appendToStream(streamId, events, { expectedVersion: version }));
    }
    await this.handle(id, { type: 'DepositMoney', data: { amount: 1 } });
  }

  failureKind(error: unknown): string {
    if (error instanceof this.#annals.ConcurrencyError) return 'version conflict';
    if (error instanceof this.#annals.DomainError) return 'domain rule';
    return errorName(error);
  }

  close(): Promise<void> {
    return this.#store.close();
  }
}
