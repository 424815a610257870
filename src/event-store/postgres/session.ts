import { CompiledQuery, sql, type Kysely } from 'kysely';
import type { EventStoreTables } from '../../database/tables.js';
import { ValidationError } from '../../errors.js';
import type {
  AppendOptions,
  AppendResult,
  CountEventsOptions,
  EventCount,
  EventStoreSession,
  EventStoreTransaction,
  LogHoldback,
  NewEvent,
  ReadAllCommittedOptions,
  ReadAllOptions,
  ReadStreamFromSnapshotOptions,
  ReadStreamOptions,
  RecordedEvent,
  Snapshot,
  StreamFromSnapshot,
  StreamInfo,
  WriteSnapshotOptions,
} from '../event-store.js';
import type { AppendLimits } from '../validation.js';
import type { PrivacyContext } from '../../privacy/personal-data.js';
import { appendToStream } from './appends.js';
import { readCheckpoint, saveCheckpoint } from './checkpoints.js';
import { countEvents, readAllCommitted, readEventsAt } from './log-reads.js';
import { getStreamInfo, headPosition, lastCommittedPosition, logHoldback, readAll, readEventsById, readStream } from './reads.js';
import type { Executor, SessionContext } from './session-context.js';
import { readSnapshot, readStreamFromSnapshot, writeSnapshot } from './snapshots.js';

export interface SessionOptions {
  executor: Executor;
  schema: string;
  limits: AppendLimits;
  privacy: PrivacyContext;
  inTransaction: boolean;
  assertOpen: () => void;
  prepare: (text: string) => void;
}

/**
 * The store's reads and writes against one executor: the pool (each statement its own
 * transaction) or a transaction opened by `withTransaction`. Each method hands over to
 * the module of its concern (appends, reads, snapshots, checkpoints).
 */
export class Session implements EventStoreSession {
  protected readonly executor: Executor;
  readonly schema: string;
  readonly #context: SessionContext;
  /** Called after each append that wrote or found events (see AppendNotifier). */
  protected onAppended: () => void = () => {};

  constructor(options: SessionOptions) {
    this.executor = options.executor;
    this.schema = options.schema;
    // onAppended is read at each call: the store and transactions replace it after construction.
    this.#context = { ...options, onAppended: () => this.onAppended() };
  }

  protected table(name: keyof EventStoreTables) {
    return sql.id(this.schema, name);
  }

  async appendToStream(streamId: string, events: readonly NewEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    return appendToStream(this.#context, streamId, events, options);
  }

  async readStream<E extends RecordedEvent = RecordedEvent>(streamId: string, options?: ReadStreamOptions): Promise<E[]> {
    return readStream<E>(this.#context, streamId, options);
  }

  async readAll<E extends RecordedEvent = RecordedEvent>(options?: ReadAllOptions): Promise<E[]> {
    return readAll<E>(this.#context, options);
  }

  async countEvents(options?: CountEventsOptions): Promise<EventCount> {
    return countEvents(this.#context, options);
  }

  async readEventsAt<E extends RecordedEvent = RecordedEvent>(positions: readonly bigint[]): Promise<E[]> {
    return readEventsAt<E>(this.#context, positions);
  }

  async readAllCommitted<E extends RecordedEvent = RecordedEvent>(options?: ReadAllCommittedOptions): Promise<E[]> {
    return readAllCommitted<E>(this.#context, options);
  }

  async getStreamInfo(streamId: string): Promise<StreamInfo | null> {
    return getStreamInfo(this.#context, streamId);
  }

  async readEventsById<E extends RecordedEvent = RecordedEvent>(eventIds: readonly string[]): Promise<E[]> {
    return readEventsById<E>(this.#context, eventIds);
  }

  async readSnapshot(streamId: string): Promise<Snapshot | null> {
    return readSnapshot(this.#context, streamId);
  }

  async readStreamFromSnapshot<E extends RecordedEvent = RecordedEvent>(
    streamId: string,
    options: ReadStreamFromSnapshotOptions,
  ): Promise<StreamFromSnapshot<E>> {
    return readStreamFromSnapshot<E>(this.#context, streamId, options);
  }

  async writeSnapshot(streamId: string, snapshot: Snapshot, options?: WriteSnapshotOptions): Promise<void> {
    return writeSnapshot(this.#context, streamId, snapshot, options);
  }

  async headPosition(): Promise<bigint> {
    return headPosition(this.#context);
  }

  async lastCommittedPosition(): Promise<bigint> {
    return lastCommittedPosition(this.#context);
  }

  async logHoldback(): Promise<LogHoldback | null> {
    return logHoldback(this.#context);
  }

  async readCheckpoint(name: string): Promise<bigint> {
    return readCheckpoint(this.#context, name);
  }

  async saveCheckpoint(name: string, position: bigint): Promise<void> {
    return saveCheckpoint(this.#context, name, position);
  }
}

/** A session inside `withTransaction`: the caller's transaction, with raw SQL and kysely. */
export class TransactionSession extends Session implements EventStoreTransaction {
  #appendsRefused = false;

  onAppendedInTransaction(callback: () => void): void {
    this.onAppended = callback;
  }

  /** For `{ appends: false }`: the transaction is not registered, so an append could be skipped by readers. */
  refuseAppends(): void {
    this.#appendsRefused = true;
  }

  override async appendToStream(streamId: string, events: readonly NewEvent[], options?: AppendOptions): Promise<AppendResult> {
    if (this.#appendsRefused) {
      throw new ValidationError([
        { field: 'options.appends', reason: 'this transaction was opened with { appends: false } and cannot append; open it without that option' },
      ]);
    }
    return super.appendToStream(streamId, events, options);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  get db(): Kysely<any> {
    return this.executor;
  }

  async query<Row = Record<string, unknown>>(text: string, parameters: readonly unknown[] = []): Promise<Row[]> {
    const result = await this.executor.executeQuery<Row>(CompiledQuery.raw(text, [...parameters]));
    return result.rows;
  }
}
