import { appendChannel } from './append-channel.js';
import { CompiledQuery, type Kysely } from 'kysely';
import { z } from 'zod';
import type { Connection } from '../../database/connection.js';
import type { MigrationResult } from '../../database/migration-result.js';
import { migrateWith } from '../../database/migrator.js';
import { StoreClosedError } from '../../errors.js';
import { storePrivacy, type StorePrivacy } from '../../privacy/store-privacy.js';
import { storeLocals, storeQuery, type StoreLocals } from '../store-locals.js';
import type {
  EventStore,
  EventStoreTransaction,
  IterateAllOptions,
  IterateStreamOptions,
  RecordedEvent,
  TransactionOptions,
} from '../event-store.js';
import type { ExpectedVersion } from '../expected-version.js';
import { type AppendLimits } from '../validation.js';
import { parseInput } from '../../validation.js';
import { AppendNotifier } from './append-notifier.js';
import { registerAppenderText } from './log-bound.js';
import { raiseLogOffset } from './log-offset.js';
import { Session, TransactionSession } from './session.js';
import { deleteStream, truncateStream, type StreamLifecycleContext } from './stream-lifecycle.js';

const transactionOptionsSchema = z.object({ appends: z.boolean({ error: 'must be true or false' }).optional() }).optional();
const batchSizeSchema = z.number().int().positive().max(100_000).optional();

/**
 * The store: a session on the pool, plus what only the store does (migrations,
 * transactions, paging iterators, deleting and truncating streams, notifications, close)
 * and holds (its aggregates' state caches).
 */
export class PostgresEventStore extends Session implements EventStore {
  readonly #connection: Connection;
  readonly #limits: AppendLimits;
  readonly #notifier: AppendNotifier;
  readonly #lifecycle: StreamLifecycleContext;
  #closed = false;
  /** @internal What other layers keep per store: the aggregates' state caches (state-cache.ts). */
  readonly [storeLocals]: StoreLocals = new WeakMap();
  /** @internal The key store and master key of personal fields (src/privacy). */
  readonly [storePrivacy]: StorePrivacy;

  constructor(connection: Connection, schema: string, limits: AppendLimits, privacy: StorePrivacy) {
    const assertOpen = () => {
      if (this.#closed) throw new StoreClosedError();
    };
    super({ executor: connection.db, schema, limits, privacy, inTransaction: false, assertOpen, prepare: (text) => connection.prepare(text) });
    this.#connection = connection;
    this.#limits = limits;
    this[storePrivacy] = privacy;
    this.#lifecycle = { db: connection.db, schema, assertOpen: () => this.#check(), getStreamInfo: (streamId) => this.getStreamInfo(streamId) };
    const channel = appendChannel(schema);
    this.#notifier = new AppendNotifier(() => connection.db.executeQuery(CompiledQuery.raw('SELECT pg_notify($1, $2)', [channel, ''])));
    // Outside a transaction, the append has committed when it returns.
    this.onAppended = () => this.#notifier.notify();
  }

  async migrate(): Promise<MigrationResult> {
    this.#check();
    return migrateWith(this.#connection.db, this.schema, undefined, async (trx) => {
      await this[storePrivacy].setup(trx);
      return raiseLogOffset(trx, this.schema);
    });
  }

  async withTransaction<T>(work: (tx: EventStoreTransaction) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    this.#check();
    const { appends = true } = parseInput(transactionOptionsSchema, options, 'options') ?? {};
    let appended = false;
    const result = await this.#connection.db.transaction().execute(async (trx) => {
      // Registers the transaction as an appender before anything can give it an id,
      // whatever the caller writes first (docs/global-log.md).
      if (appends) await trx.executeQuery(CompiledQuery.raw(registerAppenderText(this.schema)));
      const tx = new TransactionSession({
        executor: trx,
        schema: this.schema,
        limits: this.#limits,
        privacy: this[storePrivacy],
        inTransaction: true,
        assertOpen: () => this.#check(),
        prepare: (text) => this.#connection.prepare(text),
      });
      tx.onAppendedInTransaction(() => (appended = true));
      if (!appends) tx.refuseAppends();
      return work(tx);
    });
    // Only once the transaction has committed: a rolled-back append notifies nobody.
    if (appended) this.#notifier.notify();
    return result;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async read<T>(work: (db: Kysely<any>) => Promise<T>): Promise<T> {
    this.#check();
    return work(this.#connection.db);
  }

  /** @internal See storeQuery. */
  [storeQuery]<Row>(text: string, parameters: readonly unknown[]): Promise<Row[]> {
    this.#check();
    return this.#connection.query<Row>(text, parameters);
  }

  async *iterateStream<E extends RecordedEvent = RecordedEvent>(
    streamId: string,
    options: IterateStreamOptions = {},
  ): AsyncIterable<E> {
    const { batchSize: size, ...range } = options;
    const batchSize = parseInput(batchSizeSchema, size, 'options.batchSize') ?? 1000;
    let { fromVersion, toVersion } = range;
    for (;;) {
      const page = await this.readStream<E>(streamId, { ...range, fromVersion, toVersion, limit: batchSize });
      yield* page;
      if (page.length < batchSize) return;
      const last = page.at(-1)!.version;
      if (range.direction === 'backward') toVersion = last - 1;
      else fromVersion = last + 1;
      if (toVersion !== undefined && toVersion < (fromVersion ?? 1)) return;
    }
  }

  async *iterateAll<E extends RecordedEvent = RecordedEvent>(options: IterateAllOptions = {}): AsyncIterable<E> {
    const { batchSize: size, ...filter } = options;
    const batchSize = parseInput(batchSizeSchema, size, 'options.batchSize') ?? 1000;
    let after = filter.after;
    for (;;) {
      const page = await this.readAll<E>({ ...filter, after, limit: batchSize });
      yield* page;
      if (page.length < batchSize) return;
      after = page.at(-1)!.globalPosition;
    }
  }

  async deleteStream(streamId: string, options: { expectedVersion?: ExpectedVersion } = {}): Promise<void> {
    return deleteStream(this.#lifecycle, streamId, options);
  }

  async truncateStream(streamId: string, options: { before: number }): Promise<{ truncateBefore: number }> {
    return truncateStream(this.#lifecycle, streamId, options);
  }

  async subscribeToAppends(onAppend: () => void, onLost: (error: unknown) => void = () => {}): Promise<{ close(): Promise<void> }> {
    this.#check();
    // Silent from the moment close() is called: the store's own last notification may
    // still arrive while close() waits for it to be sent.
    const stop = await this.#connection.listen(
      appendChannel(this.schema),
      () => {
        if (!this.#closed) onAppend();
      },
      (error) => {
        if (!this.#closed) onLost(error);
      },
    );
    return { close: stop };
  }

  /** Ends every subscription, then the pool (see EventStore.close). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#notifier.settle();
    await this.#connection.close();
  }

  #check(): void {
    if (this.#closed) throw new StoreClosedError();
  }
}
