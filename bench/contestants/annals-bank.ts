import { bankAccount } from '../../domain/bank-account/index.js';
import {
  ConcurrencyError,
  createEventStore,
  defineAggregate,
  DomainError,
  handleCommand,
  loadAggregate,
  type EventStore,
} from '../../src/index.js';
import { errorName, fillBatch, fillEvent, type BankCommand, type BankContestant } from './bank-contestant.js';

// The domain's bank account minus its snapshot policy (and the parts defineAggregate
// derives again): the same decide and evolve, so the two Annals variants differ only in
// snapshots.
const { eventCodec: _eventCodec, commandSchema: _commandSchema, streamId: _streamId, snapshots: _snapshots, ...definition } = bankAccount;
export const bankAccountWithoutSnapshots = defineAggregate(definition);
/** The domain's bank account, snapshots included, with a state cache (docs/aggregates.md). */
export const bankAccountCached = defineAggregate({ ...definition, snapshots: bankAccount.snapshots!, cache: { maxStreams: 10_000 } });

export type AnnalsVariant = 'snapshots' | 'no-snapshots' | 'cached';

/**
 * Annals through its public API: `handleCommand(store, bankAccount, id, command)` with its
 * defaults (10 retries after a ConcurrencyError, jittered backoff from 5 to 500 ms; no
 * command id, as Emmett has none) and `loadAggregate`, on the domain's bankAccount
 * (snapshots every 50 events), on the same aggregate without snapshots, or with a state
 * cache as well.
 */
export class AnnalsBank implements BankContestant {
  readonly #store: EventStore;
  readonly #aggregate: typeof bankAccount | typeof bankAccountWithoutSnapshots | typeof bankAccountCached;

  private constructor(store: EventStore, variant: AnnalsVariant) {
    this.#store = store;
    this.#aggregate = { snapshots: bankAccount, 'no-snapshots': bankAccountWithoutSnapshots, cached: bankAccountCached }[variant];
  }

  /** Opens a store on `schema`, creating its tables with the store's own (idempotent) migration. */
  static async open(connectionString: string, schema: string, options: { maxConnections: number; variant: AnnalsVariant }): Promise<AnnalsBank> {
    const store = createEventStore({ connectionString, maxConnections: options.maxConnections }, { schema });
    await store.migrate();
    return new AnnalsBank(store, options.variant);
  }

  async handle(id: string, command: BankCommand): Promise<void> {
    await handleCommand(this.#store, this.#aggregate, id, command);
  }

  async load(id: string): Promise<{ version: number; balance: number }> {
    const { state, version } = await loadAggregate(this.#store, this.#aggregate, id);
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
    if (error instanceof ConcurrencyError) return 'version conflict';
    if (error instanceof DomainError) return 'domain rule';
    return errorName(error);
  }

  close(): Promise<void> {
    return this.#store.close();
  }
}
