/**
 * The event store's interface: types only, no implementation (kysely's driver.ts beside
 * its dialects). The Postgres implementation is in ./postgres/; what goes in and comes out
 * is in records.ts and session-options.ts, re-exported here so callers import one module.
 */
import type { Kysely } from 'kysely';
import type { MigrationResult } from '../database/migration-result.js';
import type { ExpectedVersion } from './expected-version.js';
import type { AppendOptions, AppendResult, LogHoldback, NewEvent, RecordedEvent, Snapshot, StreamFromSnapshot, StreamInfo, WriteSnapshotOptions } from './records.js';
import type {
  CountEventsOptions,
  EventCount,
  IterateAllOptions,
  IterateStreamOptions,
  ReadAllCommittedOptions,
  ReadAllOptions,
  ReadStreamFromSnapshotOptions,
  ReadStreamOptions,
  TransactionOptions,
} from './session-options.js';
import type { StoreLocals, storeLocals, StoreQuery, storeQuery } from './store-locals.js';

export type * from './records.js';
export type * from './session-options.js';

/** What works both on the store and inside `withTransaction`. */
export interface EventStoreSession {
  /**
   * Appends `events` to the end of `streamId`, all or nothing.
   *
   * @throws ConcurrencyError when the stream's version is not `expectedVersion`.
   * @throws StreamDeletedError when the stream is deleted (except with `'no_stream'`).
   * @throws IdempotencyConflictError when an event id was used before for something else.
   * @throws ValidationError for bad input; nothing is written.
   *
   * @example
   * ```ts
   * const { nextExpectedVersion } = await store.appendToStream(
   *   'post-42',
   *   [{ type: 'LikeCreated', data: { postId: '42', userId: 'ada' } }],
   *   { expectedVersion: 'any' },
   * );
   * ```
   */
  appendToStream(streamId: string, events: readonly NewEvent[], options?: AppendOptions): Promise<AppendResult>;

  /**
   * Events of one stream, oldest first unless `direction: 'backward'`. A stream that
   * does not exist reads as `[]`.
   *
   * @throws StreamDeletedError when the stream is deleted.
   * @example
   * ```ts
   * const events = await store.readStream('post-42', { fromVersion: 1 });
   * ```
   */
  readStream<E extends RecordedEvent = RecordedEvent>(streamId: string, options?: ReadStreamOptions): Promise<E[]>;

  /**
   * The global log in increasing global position, from after `after`. Safe to resume
   * from the last position processed: an event that commits later never appears below
   * a position already returned (docs/global-log.md).
   *
   * @example
   * ```ts
   * const page = await store.readAll({ after: checkpoint, limit: 500 });
   * ```
   */
  readAll<E extends RecordedEvent = RecordedEvent>(options?: ReadAllOptions): Promise<E[]>;

  /**
   * Counts the events `readAll({ after, types, categories })` would return now, up to
   * `until` (inclusive), and tells when the first of them was recorded: a lag in events
   * (positions are sparse, so subtracting them says nothing). Bounded like `readAll`: an
   * event readers cannot see yet (docs/global-log.md) is not counted.
   *
   * @example
   * ```ts
   * const head = await store.headPosition();
   * const { count, oldestRecordedAt } = await store.countEvents({ after: checkpoint, until: head, types: ['LikeCreated'] });
   * ```
   */
  countEvents(options?: CountEventsOptions): Promise<EventCount>;

  /**
   * The events at these global positions, in global order (positions with no event are
   * left out). A lookup, like `readEventsById`, not a read of the log: it is not bounded
   * by what readers can see, so it returns an event that committed while an older
   * appender of the store is still open (which `readAll` holds back), and inside
   * `withTransaction` the transaction's own events. Never page the log with it.
   *
   * @example
   * ```ts
   * const [event] = await tx.readEventsAt([deadLetter.globalPosition]);
   * ```
   */
  readEventsAt<E extends RecordedEvent = RecordedEvent>(positions: readonly bigint[]): Promise<E[]>;

  /**
   * Like `readAll` (with `until`, inclusive), but every event committed so far, including
   * those readers cannot see yet because an older appender of the store is still open
   * (and inside `withTransaction`, its own): `lastCommittedPosition()` is its head.
   *
   * Not safe to resume from: an appender still open may commit events below what it
   * returns, and a checkpoint moved past them would skip them (docs/global-log.md). For
   * a caller that has shut out, by other means, every appender it cares about: a
   * rebuild's switch of an inline projection holds the projection's lock, which its
   * appenders take before they append.
   *
   * @example
   * ```ts
   * const page = await tx.readAllCommitted({ after: checkpoint, types: ['Deposited'], limit: 1000 });
   * ```
   */
  readAllCommitted<E extends RecordedEvent = RecordedEvent>(options?: ReadAllCommittedOptions): Promise<E[]>;

  /** The stream's version and state, or `null` when it was never appended to. */
  getStreamInfo(streamId: string): Promise<StreamInfo | null>;

  /**
   * The events with these ids, in global order (missing ids are left out). Used to find
   * what an earlier attempt of a command appended.
   */
  readEventsById<E extends RecordedEvent = RecordedEvent>(eventIds: readonly string[]): Promise<E[]>;

  /** The stream's latest snapshot, or `null`. See `snapshots` in `defineAggregate`. */
  readSnapshot(streamId: string): Promise<Snapshot | null>;

  /**
   * The stream's latest snapshot in shape `snapshotVersion` (a snapshot of another shape
   * counts as none) and the first `limit` events after it, in one round trip: what
   * loading an aggregate needs. Without a usable snapshot, events from the start.
   *
   * @throws StreamDeletedError when the stream is deleted.
   * @example
   * ```ts
   * const { snapshot, events } = await store.readStreamFromSnapshot('account-7', { snapshotVersion: 1 });
   * ```
   */
  readStreamFromSnapshot<E extends RecordedEvent = RecordedEvent>(
    streamId: string,
    options: ReadStreamFromSnapshotOptions,
  ): Promise<StreamFromSnapshot<E>>;

  /**
   * Saves a snapshot of the stream's state, unless a snapshot of a later stream version
   * with the same snapshot version is already stored. For a stream holding personal
   * fields, nothing is saved when one of its data subjects was forgotten after the stream
   * was read to build the state (`options.loadedVersion`, default `streamVersion`): the
   * state may hold what was erased (docs/privacy.md).
   */
  writeSnapshot(streamId: string, snapshot: Snapshot, options?: WriteSnapshotOptions): Promise<void>;

  /**
   * Global position of the newest event a reader can see now (0n when the log is empty):
   * `readAll` returns nothing above it yet (docs/global-log.md).
   */
  headPosition(): Promise<bigint>;

  /**
   * Global position of the newest committed event (0n when the log is empty), whether or
   * not readers can see it yet: it is above `headPosition()` while an older appender's
   * transaction is still open. "Everything committed so far" is everything up to here;
   * `catchUpProjections` waits for it by default.
   */
  lastCommittedPosition(): Promise<bigint>;

  /**
   * The oldest open transaction of this store that holds readers back (docs/global-log.md):
   * readAll returns nothing above its position until it ends. null when no appender of
   * this store has an open write transaction. Transactions that never append to this
   * store (another database's, an idle session elsewhere) never hold the log back.
   *
   * @example
   * ```ts
   * const holdback = await store.logHoldback();
   * if (holdback && holdback.ageMs > 5_000) console.warn(`pid ${holdback.pid} holds back the log`, holdback.query);
   * ```
   */
  logHoldback(): Promise<LogHoldback | null>;

  /** The global position a consumer of the log has processed up to (0n: nothing yet). */
  readCheckpoint(name: string): Promise<bigint>;

  /**
   * Records that consumer `name` has processed the log up to `position`. Call it in the
   * same transaction as the work, so both commit or neither does. Never moves backward.
   */
  saveCheckpoint(name: string, position: bigint): Promise<void>;
}

/** The handle inside `withTransaction`: appends and your own writes commit together. */
export interface EventStoreTransaction extends EventStoreSession {
  /** The schema holding the store's tables. */
  readonly schema: string;
  /**
   * A kysely handle on the transaction's connection, for your own tables
   * (read models, outbox rows). Give it your table types with `tx.db.withTables<T>()`.
   */
  // Kysely<any> is kysely's own idiom for "tables the store does not know about".
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly db: Kysely<any>;
  /** Runs raw SQL with `$1`-style parameters on the transaction's connection. */
  query<Row = Record<string, unknown>>(text: string, parameters?: readonly unknown[]): Promise<Row[]>;
}

export interface EventStore extends EventStoreSession {
  /** The schema holding this store's tables. */
  readonly schema: string;
  /**
   * What other layers keep for this store: the aggregate states `handleCommand` caches
   * (`cache` in `defineAggregate`). Only the store holds them, never a transaction, whose
   * appends may still roll back. Optional, so that a store of your own (a test double)
   * need not.
   *
   * @internal
   */
  readonly [storeLocals]?: StoreLocals;
  /**
   * Runs one compiled statement on the pool, outside any transaction, as a named prepared
   * statement where the store has them (readModel's prepared reads). Optional: without it,
   * they go through `read`.
   *
   * @internal
   */
  readonly [storeQuery]?: StoreQuery;
  /** Creates or upgrades the store's tables; safe to call from many processes at once. */
  migrate(): Promise<MigrationResult>;
  /**
   * Runs `work` in one database transaction: everything it appends and writes commits
   * together, or nothing does when it throws.
   *
   * @example
   * ```ts
   * await store.withTransaction(async (tx) => {
   *   await tx.appendToStream('account-7', [{ type: 'Deposited', data: { amount: 500 } }]);
   *   await tx.query('UPDATE balances SET amount = amount + 500 WHERE id = $1', ['7']);
   * });
   * ```
   *
   * A transaction that will never append can say so with `{ appends: false }`: it is then
   * not registered as an appender, so its own writes (a read model, a checkpoint) never
   * hold back the log's readers (docs/global-log.md), and an append in it is refused.
   */
  withTransaction<T>(work: (tx: EventStoreTransaction) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * Runs `work` with a kysely handle on the store's pool, outside any transaction: each
   * statement runs on its own and sees what had committed when it started. For reads of
   * your own tables (read models) in one statement, this saves the BEGIN and COMMIT
   * round trips of `withTransaction`. Statements that must see one snapshot together, or
   * writes that must commit together, belong in `withTransaction`.
   *
   * @throws StoreClosedError after `close()`.
   * @example
   * ```ts
   * const rows = await store.read((db) => db.withSchema('likes').selectFrom('like_counts').selectAll().execute());
   * ```
   */
  // Kysely<any>: the tables are the caller's, as in `withTransaction`'s `tx.db`.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  read<T>(work: (db: Kysely<any>) => Promise<T>): Promise<T>;
  /** Like readStream, paging `batchSize` events at a time so memory stays flat. */
  iterateStream<E extends RecordedEvent = RecordedEvent>(streamId: string, options?: IterateStreamOptions): AsyncIterable<E>;
  /** Like readAll, paging `batchSize` events at a time so memory stays flat. */
  iterateAll<E extends RecordedEvent = RecordedEvent>(options?: IterateAllOptions): AsyncIterable<E>;
  /**
   * Soft-deletes a stream: reads throw StreamDeletedError and appends are refused, until
   * an append with `expectedVersion: 'no_stream'` recreates it. Its events stay in the
   * global log. Deleting a deleted or missing stream does nothing.
   */
  deleteStream(streamId: string, options?: { expectedVersion?: ExpectedVersion }): Promise<void>;
  /**
   * Sets a retention point: stream reads no longer return events with version < `before`
   * (never moves backward; at most past the current last event). Returns the point in force.
   */
  truncateStream(streamId: string, options: { before: number }): Promise<{ truncateBefore: number }>;
  /**
   * Calls `onAppend` soon after each transaction that appended events through an Annals
   * store on this schema commits (Postgres LISTEN/NOTIFY on a connection of its own;
   * notifications are coalesced, so one call may stand for many appends). Notifications are a hint, not a feed: read
   * the log to see what changed, and poll as well, since a notification can be lost when
   * the connection drops (`onLost` is then called; subscribe again to resume).
   *
   * @example
   * ```ts
   * const subscription = await store.subscribeToAppends(() => wakeUp());
   * await subscription.close();
   * ```
   */
  subscribeToAppends(onAppend: () => void, onLost?: (error: unknown) => void): Promise<{ close(): Promise<void> }>;
  /**
   * Ends everything the store opened: its subscriptions' connections (a subscription
   * still connecting fails with StoreClosedError; no callback runs once close() is
   * called) and the connection pool (unless you passed your own `pool`). Nothing of the
   * store then keeps the process alive. Further calls throw StoreClosedError.
   */
  close(): Promise<void>;
}
