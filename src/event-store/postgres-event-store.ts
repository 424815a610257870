import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type pg from 'pg';
import { CompiledQuery, sql, type Kysely, type Transaction } from 'kysely';
import { z } from 'zod';
import { openConnection, type Connection, type ConnectionConfig } from '../database/connection.js';
import { migrateWith, type MigrationResult } from '../database/migrator.js';
import type { EventStoreTables } from '../database/tables.js';
import {
  ConcurrencyError,
  IdempotencyConflictError,
  ValidationError,
  StoreClosedError,
  StreamDeletedError,
  TransactionTooLargeError,
} from '../errors.js';
import type {
  AppendOptions,
  AppendResult,
  EventStore,
  EventStoreSession,
  EventStoreTransaction,
  IterateAllOptions,
  IterateStreamOptions,
  LogHoldback,
  NewEvent,
  ReadAllOptions,
  ReadStreamFromSnapshotOptions,
  ReadStreamOptions,
  RecordedEvent,
  Snapshot,
  StreamFromSnapshot,
  StreamInfo,
  TransactionOptions,
} from './event-store.js';
import { readSnapshotQuery, readStreamFromSnapshotQuery, readStreamQuery, toRecordedEvent, type EventRow } from './read-statements.js';
import { AppendNotifier } from './append-notifier.js';
import { appendQuery, maxEventsPerTransaction, type AppendRow } from './append-statement.js';
import { appenderKey, logAheadError, logHoldbackText, readBound, registerAppenderText } from './log-bound.js';
import { schemaNameSchema } from '../database/schema-name.js';
import { raiseLogOffset } from './log-offset.js';
import { expectedVersionSchema, type ExpectedVersion } from './expected-version.js';
import { jsonIssues, parseInput, prepareAppend, streamIdSchema, type AppendLimits, type PreparedAppend, defaultAppendLimits } from './validation.js';
import { eventIdsSchema, globalPositionSchema, readAllOptionsSchema } from './read-options.js';


export interface EventStoreOptions {
  /** Postgres schema for the store's tables (default `annals`). */
  schema?: string;
  /** Largest serialized data + metadata of one event (default 1 MiB). */
  maxEventBytes?: number;
  /** Most events in one append call (default 10,000). */
  maxEventsPerAppend?: number;
}

const optionsSchema = z.object({
  schema: schemaNameSchema.optional(),
  maxEventBytes: z.number().int().positive().optional(),
  maxEventsPerAppend: z.number().int().positive().max(maxEventsPerTransaction).optional(),
});

const versionSchema = z.number().int({ error: 'must be a whole number' }).min(0, { error: 'must be >= 0' });
const readStreamOptionsSchema = z
  .object({
    fromVersion: versionSchema.optional(),
    toVersion: versionSchema.optional(),
    direction: z.enum(['forward', 'backward']).optional(),
    limit: z.number().int().positive({ error: 'must be a positive whole number' }).optional(),
  })
  .optional();
const readStreamFromSnapshotOptionsSchema = z.object(
  {
    snapshotVersion: z.number().int({ error: 'must be a whole number' }).min(1, { error: 'must be >= 1' }).max(2_147_483_647),
    limit: z.number().int().positive({ error: 'must be a positive whole number' }).optional(),
  },
  { error: 'must be an object { snapshotVersion, limit? }' },
);
const batchSizeSchema = z.number().int().positive().max(100_000).optional();

/**
 * Creates an event store on Postgres (a connection string or your `pg.Pool`) or on an
 * embedded PGlite. Call `migrate()` once before use and `close()` when done.
 *
 * @example
 * ```ts
 * const store = createEventStore({ connectionString: process.env.DATABASE_URL! }, { schema: 'annals' });
 * await store.migrate();
 * await store.appendToStream('post-42', [{ type: 'LikeCreated', data: { postId: '42', userId: 'ada' } }]);
 * await store.close();
 * ```
 */
export function createEventStore(connection: ConnectionConfig | pg.Pool, options: EventStoreOptions = {}): EventStore {
  const checked = parseInput(optionsSchema, options, 'options');
  const config: ConnectionConfig = isPool(connection) ? { pool: connection } : connection;
  return new PostgresEventStore(openConnection(config), checked.schema ?? 'annals', {
    maxEventBytes: checked.maxEventBytes ?? defaultAppendLimits.maxEventBytes,
    maxEventsPerAppend: checked.maxEventsPerAppend ?? defaultAppendLimits.maxEventsPerAppend,
  });
}

function isPool(value: unknown): value is pg.Pool {
  return typeof value === 'object' && value !== null && typeof (value as pg.Pool).connect === 'function';
}

type Executor = Kysely<EventStoreTables> | Transaction<EventStoreTables>;

/**
 * The columns an event is read with, named rather than `*`: reads run as prepared
 * statements, and Postgres refuses to run one whose result columns changed ("cached plan
 * must not change result type"), as they would when a later migration adds a column.
 */
const eventColumns = [
  'global_position',
  'stream_id',
  'stream_version',
  'event_id',
  'type',
  'schema_version',
  'data',
  'metadata',
  'recorded_at',
] as const;


/**
 * The store's reads and writes against one executor: the pool (each statement its own
 * transaction) or a transaction opened by `withTransaction`.
 */
class Session implements EventStoreSession {
  protected readonly executor: Executor;
  readonly schema: string;
  readonly #limits: AppendLimits;
  readonly #inTransaction: boolean;
  readonly #assertOpen: () => void;
  readonly #prepare: (text: string) => void;
  /** Called after each append that wrote or found events (see AppendNotifier). */
  protected onAppended: () => void = () => {};

  constructor(
    executor: Executor,
    schema: string,
    limits: AppendLimits,
    inTransaction: boolean,
    assertOpen: () => void,
    prepare: (text: string) => void,
  ) {
    this.executor = executor;
    this.schema = schema;
    this.#limits = limits;
    this.#inTransaction = inTransaction;
    this.#assertOpen = assertOpen;
    this.#prepare = prepare;
  }

  /** Runs a hot-path query as a prepared statement (see Connection.prepare). */
  protected async runPrepared<Row>(query: { compile(executor: Executor): CompiledQuery<Row> }): Promise<Row[]> {
    const compiled = query.compile(this.executor);
    this.#prepare(compiled.sql);
    return (await this.executor.executeQuery(compiled)).rows;
  }

  protected table(name: keyof EventStoreTables) {
    return sql.id(this.schema, name);
  }

  async appendToStream(streamId: string, events: readonly NewEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    this.#assertOpen();
    const append = prepareAppend(streamId, events, options?.expectedVersion, this.#limits);
    const retryable = append.events.some((event) => event.idFromCaller);

    // Inside a transaction a failed statement aborts the caller's whole transaction, so a
    // retry is recognized before writing. Outside one, the append itself is tried first
    // (one round trip on the common path) and a retry shows up as its failure.
    if (retryable && this.#inTransaction) {
      const earlier = await this.#findEarlierAppend(append);
      if (earlier) return earlier;
    }

    let row: AppendRow | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        const query = appendQuery(this.schema, append, this.#inTransaction);
        this.#prepare(query.sql);
        row = (await this.executor.executeQuery(query)).rows[0];
        break;
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === 'AN002') {
          // A newer transaction appended to the stream after this one got its id
          // (docs/global-log.md, "Per-stream order"). On its own, the append is its own
          // transaction: trying again gets a newer id. Inside withTransaction the caller
          // must retry the whole transaction.
          if (!this.#inTransaction && attempt < maxOrderRetries) continue;
          const actual = Number((error as { detail?: string }).detail ?? 0);
          throw new ConcurrencyError(append.streamId, append.expectedVersion, actual, { reason: 'log-order', cause: error });
        }
        if (isDuplicateEventId(error) && !this.#inTransaction) {
          const earlier = await this.#findEarlierAppend(append);
          if (earlier) return earlier;
        }
        throw this.#appendError(error, append);
      }
    }

    if (row?.version === null || row?.version === undefined || row.last_position === null) {
      // The stream row did not match the expected version: find out why.
      if (retryable && !this.#inTransaction) {
        const earlier = await this.#findEarlierAppend(append);
        if (earlier) return earlier;
      }
      const info = await this.getStreamInfo(append.streamId);
      if (info?.deleted) throw new StreamDeletedError(append.streamId);
      throw new ConcurrencyError(append.streamId, append.expectedVersion, info?.version ?? 0);
    }
    this.onAppended();
    return { nextExpectedVersion: Number(row.version), lastGlobalPosition: BigInt(row.last_position), eventIds: append.events.map((event) => event.id) };
  }

  /** The typed error for a failed append statement. */
  #appendError(error: unknown, append: PreparedAppend): unknown {
    if ((error as { code?: string }).code === 'AN001') return new TransactionTooLargeError(maxEventsPerTransaction, { cause: error });
    if (!isDuplicateEventId(error)) return logAheadError(error) ?? error;
    const eventId = append.events.find((event) => event.idFromCaller)?.id ?? append.events[0]!.id;
    return new IdempotencyConflictError(
      append.streamId,
      eventId,
      'an event id in this batch was appended concurrently by another transaction; retry the transaction',
    );
  }

  /**
   * When events with the caller's ids are already stored, decides whether this append is
   * a retry of that one (same stream, same events, same order): then it returns the
   * original result. Anything else that reuses an id is an IdempotencyConflictError.
   */
  async #findEarlierAppend(append: PreparedAppend): Promise<AppendResult | null> {
    const ids = append.events.map((event) => event.id);
    const rows = await this.executor
      .withSchema(this.schema)
      .selectFrom('events')
      .select(['event_id', 'stream_id', 'stream_version', 'global_position', 'type', 'schema_version', 'data', 'metadata'])
      .where('event_id', '=', anyOf(ids, 'uuid'))
      .execute();
    if (rows.length === 0) return null;
    const byId = new Map(rows.map((row) => [row.event_id, row]));
    const first = byId.get(ids[0]!);
    let last: (typeof rows)[number] | undefined;
    for (const [index, event] of append.events.entries()) {
      const row = byId.get(event.id);
      const conflict = (reason: string) => new IdempotencyConflictError(append.streamId, event.id, reason);
      if (!row || !first) throw conflict('only part of this batch was appended before; a retry must send the same events');
      if (row.stream_id !== append.streamId) throw conflict(`it was appended to stream '${row.stream_id}'`);
      if (Number(row.stream_version) !== Number(first.stream_version) + index) {
        throw conflict('the earlier append held these events in another order or batch');
      }
      if (
        row.type !== event.type ||
        row.schema_version !== event.schemaVersion ||
        !isDeepStrictEqual(row.data, JSON.parse(event.dataJson)) ||
        !isDeepStrictEqual(row.metadata, JSON.parse(event.metadataJson))
      ) {
        throw conflict('it was appended with another type, schema version, data or metadata');
      }
      last = row;
    }
    return { nextExpectedVersion: Number(last!.stream_version), lastGlobalPosition: BigInt(last!.global_position), eventIds: ids };
  }

  async readStream<E extends RecordedEvent = RecordedEvent>(streamId: string, options?: ReadStreamOptions): Promise<E[]> {
    this.#assertOpen();
    const id = parseInput(streamIdSchema, streamId, 'streamId');
    const { fromVersion = 1, toVersion, direction = 'forward', limit } = parseInput(readStreamOptionsSchema, options, 'options') ?? {};
    const query = readStreamQuery(this.schema, id, { fromVersion, toVersion, direction, limit });
    this.#prepare(query.sql);
    const { rows } = await this.executor.executeQuery(query);
    if (rows.length === 0) return [];
    if (rows[0]!.deleted_at !== null) throw new StreamDeletedError(id);
    if (rows[0]!.global_position === null) return [];
    return rows.map((row) => toRecordedEvent(row as EventRow) as E);
  }

  async readAll<E extends RecordedEvent = RecordedEvent>(options?: ReadAllOptions): Promise<E[]> {
    this.#assertOpen();
    const { after = 0n, limit, types, categories } = parseInput(readAllOptionsSchema, options, 'options') ?? {};
    const rows = await this.#readingLog(() => this.runPrepared(this.executor
      .withSchema(this.schema)
      .selectFrom('events')
      .select(eventColumns)
      .where('global_position', '>', after.toString())
      .where('global_position', '<', readBound(this.schema))
      // One array parameter per list, whatever its length (read-options.ts); an empty
      // one matches nothing.
      .$if(types !== undefined, (q) => q.where('type', '=', anyOf(types!, 'text')))
      .$if(categories !== undefined, (q) => q.where('category', '=', anyOf(categories!, 'text')))
      .orderBy('global_position')
      .$if(limit !== undefined, (q) => q.limit(limit!))));
    return rows.map((row) => toRecordedEvent(row as EventRow) as E);
  }

  /** Runs a bounded read of the log, with AN003 (a moved store) as a LogAheadError. */
  async #readingLog<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (error) {
      throw logAheadError(error) ?? error;
    }
  }

  async getStreamInfo(streamId: string): Promise<StreamInfo | null> {
    this.#assertOpen();
    const id = parseInput(streamIdSchema, streamId, 'streamId');
    const row = await this.executor
      .withSchema(this.schema)
      .selectFrom('streams')
      .selectAll()
      .where('stream_id', '=', id)
      .executeTakeFirst();
    if (!row) return null;
    return {
      streamId: row.stream_id,
      category: row.category,
      version: Number(row.version),
      truncateBefore: Number(row.truncate_before),
      historyStart: Number(row.history_start),
      deleted: row.deleted_at !== null,
      deletedAt: row.deleted_at === null ? null : new Date(row.deleted_at),
      createdAt: new Date(row.created_at),
      updatedAt: new Date(row.updated_at),
    };
  }

  async readEventsById<E extends RecordedEvent = RecordedEvent>(eventIds: readonly string[]): Promise<E[]> {
    this.#assertOpen();
    const ids = parseInput(eventIdsSchema, eventIds, 'eventIds');
    if (ids.length === 0) return [];
    const rows = await this.executor
      .withSchema(this.schema)
      .selectFrom('events')
      .select(eventColumns)
      .where('event_id', '=', anyOf(ids, 'uuid'))
      .orderBy('global_position')
      .execute();
    return rows.map((row) => toRecordedEvent(row as EventRow) as E);
  }

  async readSnapshot(streamId: string): Promise<Snapshot | null> {
    this.#assertOpen();
    const id = parseInput(streamIdSchema, streamId, 'streamId');
    const query = readSnapshotQuery(this.schema, id);
    this.#prepare(query.sql);
    const [row] = (await this.executor.executeQuery(query)).rows;
    if (!row) return null;
    return { snapshotVersion: row.snapshot_version, streamVersion: Number(row.stream_version), state: row.state };
  }

  async readStreamFromSnapshot<E extends RecordedEvent = RecordedEvent>(
    streamId: string,
    options: ReadStreamFromSnapshotOptions,
  ): Promise<StreamFromSnapshot<E>> {
    this.#assertOpen();
    const id = parseInput(streamIdSchema, streamId, 'streamId');
    const { snapshotVersion, limit = 1000 } = parseInput(readStreamFromSnapshotOptionsSchema, options, 'options');
    const query = readStreamFromSnapshotQuery(this.schema, id, snapshotVersion, limit);
    this.#prepare(query.sql);
    const { rows } = await this.executor.executeQuery(query);
    const first = rows[0];
    if (!first) return { snapshot: null, events: [], stream: null };
    if (first.deleted_at !== null) throw new StreamDeletedError(id);
    const snapshot =
      first.snapshot_stream_version === null
        ? null
        : { snapshotVersion, streamVersion: Number(first.snapshot_stream_version), state: first.snapshot_state };
    const events = first.global_position === null ? [] : rows.map((row) => toRecordedEvent(row as EventRow) as E);
    const stream = {
      version: Number(first.stream_current_version),
      truncateBefore: Number(first.truncate_before),
      historyStart: Number(first.history_start),
    };
    return { snapshot, events, stream };
  }

  async writeSnapshot(streamId: string, snapshot: Snapshot): Promise<void> {
    this.#assertOpen();
    const id = parseInput(streamIdSchema, streamId, 'streamId');
    const checked = parseInput(snapshotSchema, snapshot, 'snapshot');
    // The checks an event's data gets (no bigint, no lone surrogate, nesting within
    // maxJsonDepth), so a bad state is a ValidationError, not a raw TypeError, 22P02 or
    // RangeError from JSON.stringify.
    const issues = checked.state === undefined ? [{ field: 'snapshot.state', reason: 'must be JSON data' }] : jsonIssues(checked.state, 'snapshot.state', false);
    if (issues.length > 0) throw new ValidationError(issues);
    const state = JSON.stringify(checked.state);
    // Only for a live stream that has reached that version. handleCommand writes its
    // snapshot after its append, in another round trip: a delete in between must not
    // leave a snapshot behind for the recreated stream to start from. FOR SHARE waits
    // for a concurrent delete to commit, then re-checks `deleted_at`.
    await this.executor
      .withSchema(this.schema)
      .insertInto('snapshots')
      .columns(['stream_id', 'snapshot_version', 'stream_version', 'state'])
      .expression((eb) =>
        eb
          .selectFrom('streams')
          .select([
            'stream_id',
            sql<number>`${checked.snapshotVersion}::integer`.as('snapshot_version'),
            sql<string>`${checked.streamVersion}::bigint`.as('stream_version'),
            sql<unknown>`${state}::jsonb`.as('state'),
          ])
          .where('stream_id', '=', id)
          .where('deleted_at', 'is', null)
          .where('version', '>=', String(checked.streamVersion))
          .where(sql<boolean>`truncate_before <= ${checked.streamVersion}::bigint`)
          .forShare(),
      )
      .onConflict((oc) =>
        oc.column('stream_id').doUpdateSet({
          snapshot_version: sql`excluded.snapshot_version`,
          stream_version: sql`excluded.stream_version`,
          state: sql`excluded.state`,
          created_at: sql`now()`,
        })
          // A snapshot of another shape is always replaced; one of the same shape only by a later one.
          .where(
            sql<boolean>`snapshots.snapshot_version <> excluded.snapshot_version OR snapshots.stream_version < excluded.stream_version`,
          ),
      )
      .execute();
  }

  async headPosition(): Promise<bigint> {
    this.#assertOpen();
    const row = await this.#readingLog(() => this.executor
      .withSchema(this.schema)
      .selectFrom('events')
      .select((eb) => eb.fn.max('global_position').as('head'))
      .where('global_position', '<', readBound(this.schema))
      .executeTakeFirst());
    return row?.head === null || row?.head === undefined ? 0n : BigInt(row.head);
  }

  async lastCommittedPosition(): Promise<bigint> {
    this.#assertOpen();
    // No bound: every committed row is visible to a fresh statement, whatever is open.
    const row = await this.executor
      .withSchema(this.schema)
      .selectFrom('events')
      .select((eb) => eb.fn.max('global_position').as('last'))
      .executeTakeFirst();
    return row?.last === null || row?.last === undefined ? 0n : BigInt(row.last);
  }

  async logHoldback(): Promise<LogHoldback | null> {
    this.#assertOpen();
    const { rows } = await this.executor.executeQuery(
      CompiledQuery.raw(logHoldbackText(), [appenderKey(this.schema)]) as CompiledQuery<{
        pid: number;
        application_name: string;
        xact_start: Date | string;
        state: string;
        query: string;
        age_ms: number;
      }>,
    );
    const row = rows[0];
    if (!row) return null;
    return {
      pid: row.pid,
      applicationName: row.application_name,
      transactionStartedAt: new Date(row.xact_start),
      ageMs: Math.round(row.age_ms),
      state: row.state,
      query: row.query,
    };
  }

  async readCheckpoint(name: string): Promise<bigint> {
    this.#assertOpen();
    const checked = parseInput(checkpointNameSchema, name, 'name');
    const row = await this.executor
      .withSchema(this.schema)
      .selectFrom('checkpoints')
      .select('position')
      .where('name', '=', checked)
      .executeTakeFirst();
    return row ? BigInt(row.position) : 0n;
  }

  async saveCheckpoint(name: string, position: bigint): Promise<void> {
    this.#assertOpen();
    const checked = parseInput(checkpointNameSchema, name, 'name');
    const at = parseInput(globalPositionSchema, position, 'position');
    await this.executor
      .withSchema(this.schema)
      .insertInto('checkpoints')
      .values({ name: checked, position: at.toString() })
      .onConflict((oc) =>
        oc.column('name').doUpdateSet({
          position: sql`greatest(checkpoints.position, excluded.position)`,
          updated_at: sql`now()`,
        }),
      )
      .execute();
  }
}

/** How often a plain append is tried when newer transactions keep appending to its stream first. */
const maxOrderRetries = 20;

/**
 * `ANY($n::type[])`: a list as one array parameter, so the statement's text is the same
 * whatever the list's length (read-options.ts says why that matters). Postgres plans it
 * as it plans `IN (…)`, with the same indexes.
 */
function anyOf(values: readonly string[], type: 'text' | 'uuid') {
  return sql<string>`ANY(${[...values]}::${sql.raw(type)}[])`;
}

function isDuplicateEventId(error: unknown): boolean {
  return (error as { code?: string }).code === '23505' && (error as { constraint?: string }).constraint === 'events_event_id_key';
}

const transactionOptionsSchema = z.object({ appends: z.boolean({ error: 'must be true or false' }).optional() }).optional();

const checkpointNameSchema = z.string().min(1, { error: 'must not be empty' }).max(255, { error: 'must be at most 255 characters' });

const snapshotSchema = z.object({
  snapshotVersion: z.number().int().min(1).max(2_147_483_647),
  streamVersion: z.number().int().min(1),
  state: z.unknown(),
});

/**
 * The schema's notification channel, named from a hash of the schema: a channel name must
 * fit in 63 bytes, whatever the schema's name.
 */
function appendChannel(schema: string): string {
  return `annals_${createHash('md5').update(schema).digest('hex').slice(0, 16)}`;
}


class TransactionSession extends Session implements EventStoreTransaction {
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

class PostgresEventStore extends Session implements EventStore {
  readonly #connection: Connection;
  readonly #limits: AppendLimits;
  readonly #notifier: AppendNotifier;
  #closed = false;

  constructor(connection: Connection, schema: string, limits: AppendLimits) {
    const assertOpen = () => {
      if (this.#closed) throw new StoreClosedError();
    };
    super(connection.db, schema, limits, false, assertOpen, (text) => connection.prepare(text));
    this.#connection = connection;
    this.#limits = limits;
    const channel = appendChannel(schema);
    this.#notifier = new AppendNotifier(() => connection.db.executeQuery(CompiledQuery.raw('SELECT pg_notify($1, $2)', [channel, ''])));
    // Outside a transaction, the append has committed when it returns.
    this.onAppended = () => this.#notifier.notify();
  }

  async migrate(): Promise<MigrationResult> {
    this.#check();
    return migrateWith(this.#connection.db, this.schema, undefined, (trx) => raiseLogOffset(trx, this.schema));
  }

  async withTransaction<T>(work: (tx: EventStoreTransaction) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    this.#check();
    const { appends = true } = parseInput(transactionOptionsSchema, options, 'options') ?? {};
    let appended = false;
    const result = await this.#connection.db.transaction().execute(async (trx) => {
      // Registers the transaction as an appender before anything can give it an id,
      // whatever the caller writes first (docs/global-log.md).
      if (appends) await trx.executeQuery(CompiledQuery.raw(registerAppenderText(this.schema)));
      const tx = new TransactionSession(trx, this.schema, this.#limits, true, () => this.#check(), (text) => this.#connection.prepare(text));
      tx.onAppendedInTransaction(() => (appended = true));
      if (!appends) tx.refuseAppends();
      return work(tx);
    });
    // Only once the transaction has committed: a rolled-back append notifies nobody.
    if (appended) this.#notifier.notify();
    return result;
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
    this.#check();
    const id = parseInput(streamIdSchema, streamId, 'streamId');
    const expected = parseInput(expectedVersionSchema, options.expectedVersion ?? 'any', 'options.expectedVersion');
    const expectsNoStream = expected === 'no_stream' || expected === 0;
    if (!expectsNoStream) {
      // The version check happens in the UPDATE itself, so a concurrent append between a
      // check and the delete cannot slip through. The snapshot goes in the same
      // transaction: a recreated stream starts from nothing, not from its old state.
      const deleted = await this.#connection.db.transaction().execute(async (trx) => {
        const row = await trx
          .withSchema(this.schema)
          .updateTable('streams')
          .set({ deleted_at: sql`now()`, updated_at: sql`now()` })
          .where('stream_id', '=', id)
          .where('deleted_at', 'is', null)
          .$if(typeof expected === 'number', (q) => q.where('version', '=', String(expected)))
          .returning('version')
          .executeTakeFirst();
        if (row) await trx.withSchema(this.schema).deleteFrom('snapshots').where('stream_id', '=', id).execute();
        return row !== undefined;
      });
      if (deleted) return;
    }
    const info = await this.getStreamInfo(id);
    if (info?.deleted) return; // already deleted: nothing to do
    const absentIsFine = expected === 'any' || expectsNoStream;
    if (info === null && absentIsFine) return;
    throw new ConcurrencyError(id, expected, info?.version ?? 0);
  }

  async truncateStream(streamId: string, options: { before: number }): Promise<{ truncateBefore: number }> {
    this.#check();
    const id = parseInput(streamIdSchema, streamId, 'streamId');
    const { before } = parseInput(z.object({ before: versionSchema }), options, 'options');
    const row = await this.#connection.db
      .withSchema(this.schema)
      .updateTable('streams')
      .set({
        truncate_before: sql`greatest(truncate_before, least(${before}::bigint, version + 1))`,
        updated_at: sql`now()`,
      })
      .where('stream_id', '=', id)
      .returning('truncate_before')
      .executeTakeFirst();
    return { truncateBefore: row ? Number(row.truncate_before) : 0 };
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
