/**
 * Every error Annals throws on purpose is an {@link AnnalsError} with a stable `code`,
 * so callers branch on `error.code` (or `instanceof`) rather than on message text.
 * The codes and their meaning are listed in `docs/errors.md`.
 *
 * @example
 * ```ts
 * try {
 *   await store.appendToStream('account-1', events, { expectedVersion: 3 });
 * } catch (error) {
 *   if (error instanceof ConcurrencyError) {
 *     // reload the stream and decide again
 *   }
 * }
 * ```
 */
export const ErrorCodes = {
  validation: 'ANNALS_VALIDATION',
  concurrency: 'ANNALS_CONCURRENCY',
  idempotencyConflict: 'ANNALS_IDEMPOTENCY_CONFLICT',
  streamDeleted: 'ANNALS_STREAM_DELETED',
  transactionTooLarge: 'ANNALS_TRANSACTION_TOO_LARGE',
  eventSchema: 'ANNALS_EVENT_SCHEMA',
  streamTruncated: 'ANNALS_STREAM_TRUNCATED',
  migration: 'ANNALS_MIGRATION',
  storeClosed: 'ANNALS_STORE_CLOSED',
  projectionStopped: 'ANNALS_PROJECTION_STOPPED',
  projectionTimeout: 'ANNALS_PROJECTION_TIMEOUT',
  deadLetter: 'ANNALS_DEAD_LETTER',
  unknownProjection: 'ANNALS_UNKNOWN_PROJECTION',
  logAhead: 'ANNALS_LOG_AHEAD',
  storeLocked: 'ANNALS_STORE_LOCKED',
  schemaConflict: 'ANNALS_SCHEMA_CONFLICT',
  connectionTimeout: 'ANNALS_CONNECTION_TIMEOUT',
  consumerStopped: 'ANNALS_CONSUMER_STOPPED',
  consumerTimeout: 'ANNALS_CONSUMER_TIMEOUT',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Base class of every error Annals throws on purpose. */
export class AnnalsError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** One problem found in caller input: `field` is a path such as `events[2].data.title`. */
export interface ValidationIssue {
  field: string;
  reason: string;
}

/**
 * Input was rejected before anything was written. `field` and `reason` describe the
 * first problem; `issues` lists all of them.
 *
 * @example
 * ```ts
 * await store.appendToStream('', [{ type: 'X', data: {} }]);
 * // ValidationError: streamId: must not be empty
 * ```
 */
export class ValidationError extends AnnalsError {
  readonly field: string;
  readonly reason: string;
  readonly issues: readonly ValidationIssue[];

  constructor(issues: readonly ValidationIssue[]) {
    const [first] = issues;
    if (first === undefined) throw new TypeError('ValidationError needs at least one issue');
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    super(ErrorCodes.validation, `${first.field}: ${first.reason}${more}`);
    this.field = first.field;
    this.reason = first.reason;
    this.issues = issues;
  }
}

/** Shown in messages and errors: what the caller expected a stream's version to be. */
export type ExpectedVersionDescription = number | 'any' | 'no_stream' | 'stream_exists';

/**
 * The stream's version was not the one the caller expected: another writer appended
 * first. Reload the stream and decide again.
 *
 * @example
 * ```ts
 * if (error instanceof ConcurrencyError) console.log(error.streamId, error.expected, error.actual);
 * ```
 */
export class ConcurrencyError extends AnnalsError {
  readonly streamId: string;
  readonly expected: ExpectedVersionDescription;
  /** The stream's version when the append was refused (0 when the stream does not exist). */
  readonly actual: number;
  /**
   * `expected-version`: the stream was not at the expected version. `log-order`: a newer
   * transaction appended to the stream after this transaction began writing, so this
   * one's events would land below that one's in the log (docs/global-log.md, "Per-stream
   * order"); the version may even match. Either way, retry the whole transaction.
   */
  readonly reason: 'expected-version' | 'log-order';

  constructor(
    streamId: string,
    expected: ExpectedVersionDescription,
    actual: number,
    options: { reason?: ConcurrencyError['reason']; cause?: unknown } = {},
  ) {
    const reason = options.reason ?? 'expected-version';
    super(
      ErrorCodes.concurrency,
      `stream '${streamId}' is at version ${actual}, expected ${JSON.stringify(expected)}` +
        (reason === 'log-order' ? ': a newer transaction appended to the stream after this transaction began writing; retry the transaction' : ''),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.streamId = streamId;
    this.expected = expected;
    this.actual = actual;
    this.reason = reason;
  }
}

/**
 * An event id was appended before with another payload or to another stream, or only part
 * of a batch was appended before. A retry must send exactly the same events.
 */
export class IdempotencyConflictError extends AnnalsError {
  readonly streamId: string;
  readonly eventId: string;
  readonly reason: string;

  constructor(streamId: string, eventId: string, reason: string) {
    super(
      ErrorCodes.idempotencyConflict,
      `event id ${eventId} (appending to '${streamId}') was used before: ${reason}`,
    );
    this.streamId = streamId;
    this.eventId = eventId;
    this.reason = reason;
  }
}

/**
 * The stream was soft-deleted. Appending with `expectedVersion: 'no_stream'` (or `0`)
 * recreates it; see `docs/event-store.md`.
 */
export class StreamDeletedError extends AnnalsError {
  readonly streamId: string;

  constructor(streamId: string) {
    super(ErrorCodes.streamDeleted, `stream '${streamId}' is deleted`);
    this.streamId = streamId;
  }
}

/**
 * One transaction tried to append more events than a global position can number
 * (see `docs/global-log.md`); split the work over several transactions.
 */
export class TransactionTooLargeError extends AnnalsError {
  readonly limit: number;

  constructor(limit: number, options?: { cause?: unknown }) {
    super(
      ErrorCodes.transactionTooLarge,
      `one transaction may append at most ${limit} events`,
      options,
    );
    this.limit = limit;
  }
}

/**
 * A stored event does not fit its type's schema once upcast: it names the event so it can
 * be found and fixed (with a new upcaster, usually). Stored events are never rewritten.
 * The message also names the fields that do not fit (the first three of `issues`): it is
 * all a projection's dead letter keeps of the error.
 *
 * @example
 * ```ts
 * // EventSchemaError: event 0f6c… (LikeCreated v1) at version 2 of stream 'post-p1' cannot be
 * // read: data does not fit schema version 1: data.userId: Invalid input: expected string, received number
 * ```
 */
export class EventSchemaError extends AnnalsError {
  readonly streamId: string;
  readonly version: number;
  readonly eventId: string;
  readonly type: string;
  readonly schemaVersion: number;
  readonly issues: readonly ValidationIssue[];

  constructor(
    event: { streamId: string; version: number; id: string; type: string; schemaVersion: number },
    reason: string,
    issues: readonly ValidationIssue[] = [],
    options?: { cause?: unknown },
  ) {
    super(
      ErrorCodes.eventSchema,
      `event ${event.id} (${event.type} v${event.schemaVersion}) at version ${event.version} of stream '${event.streamId}' cannot be read: ${reason}${describeIssues(issues)}`,
      options,
    );
    this.streamId = event.streamId;
    this.version = event.version;
    this.eventId = event.id;
    this.type = event.type;
    this.schemaVersion = event.schemaVersion;
    this.issues = issues;
  }
}

/** `: data.a: reason; data.b: reason (and 2 more)`, or nothing without issues. */
function describeIssues(issues: readonly ValidationIssue[]): string {
  if (issues.length === 0) return '';
  const shown = issues.slice(0, 3).map((issue) => `${issue.field}: ${issue.reason}`);
  const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : '';
  return `: ${shown.join('; ')}${more}`;
}

/**
 * An aggregate's state cannot be rebuilt: events it needs were truncated away, and no
 * snapshot of the aggregate's current snapshot version covers them. Rebuilding from the
 * events that are left would give a wrong state, so nothing is decided on it.
 */
export class StreamTruncatedError extends AnnalsError {
  readonly streamId: string;
  /** First missing version. */
  readonly fromVersion: number;
  /** The stream's retention point: versions from `fromVersion` up to this are gone. */
  readonly truncateBefore: number;

  constructor(streamId: string, fromVersion: number, truncateBefore: number) {
    super(
      ErrorCodes.streamTruncated,
      `stream '${streamId}' was truncated before version ${truncateBefore}, so versions ${fromVersion} to ${truncateBefore - 1} are gone and no usable snapshot covers them`,
    );
    this.streamId = streamId;
    this.fromVersion = fromVersion;
    this.truncateBefore = truncateBefore;
  }
}

/**
 * Base class for the errors a domain's `decide` throws when a command breaks a rule.
 * Subclasses set their own stable `code` (`ACCOUNT_OVERDRAWN`, say); the kit passes them
 * through unchanged and never retries them.
 *
 * @example
 * ```ts
 * class InsufficientFunds extends DomainError {
 *   constructor(balance: number, amount: number) {
 *     super('ACCOUNT_INSUFFICIENT_FUNDS', `balance ${balance} is less than ${amount}`, { balance, amount });
 *   }
 * }
 * ```
 */
export class DomainError extends Error {
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

/** A migration failed, or an applied migration's file changed since it was applied. */
export class MigrationError extends AnnalsError {
  readonly migration: string;

  constructor(migration: string, message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.migration, `migration ${migration}: ${message}`, options);
    this.migration = migration;
  }
}

/**
 * The log holds global positions this Postgres server's transaction ids have not reached:
 * the store was restored into another cluster (pg_dump / pg_restore, logical
 * replication) and `migrate()` has not been run there. Appends are refused rather than
 * written below the restored log, and reads rather than returning nothing. Run
 * `migrate()` (or `annals migrate`) once on the new server (docs/global-log.md,
 * "Moving the log to another server").
 */
export class LogAheadError extends AnnalsError {
  /** The highest global position in the log. */
  readonly logPosition: bigint;
  /** The lowest position this server would give a new event without migrate(). */
  readonly serverPosition: bigint;

  constructor(logPosition: bigint, serverPosition: bigint, options?: { cause?: unknown }) {
    super(
      ErrorCodes.logAhead,
      `the log holds global position ${logPosition} but this server's transaction ids only reach ${serverPosition}: ` +
        'the store was moved to another server; run migrate() (annals migrate) there once',
      options,
    );
    this.logPosition = logPosition;
    this.serverPosition = serverPosition;
  }
}

/** The store was used after `close()`. */
export class StoreClosedError extends AnnalsError {
  constructor() {
    super(ErrorCodes.storeClosed, 'the event store is closed');
  }
}

/** The process holding a PGlite data directory, as its lock file records it. */
export interface StoreLockHolder {
  readonly pid: number;
  readonly hostname: string;
  /** When the holding process started (ISO 8601). */
  readonly startedAt: string;
}

/**
 * An embedded PGlite data directory is open in another store already: in another process,
 * or in another store of this one. PGlite is a single connection with no locking of its
 * own, so two stores on one directory would both accept the same `expectedVersion` and
 * one's acknowledged events would be lost. Close the other store (or stop that process),
 * share one store, or give `lockTimeoutMs` to wait for it.
 *
 * @example
 * ```ts
 * if (error instanceof StoreLockedError) console.log(error.directory, error.holder.pid, error.holder.hostname);
 * ```
 */
export class StoreLockedError extends AnnalsError {
  readonly directory: string;
  readonly holder: StoreLockHolder;

  constructor(directory: string, holder: StoreLockHolder, where: { lockFile: string; sameProcess: boolean }) {
    const who = `process ${holder.pid} on ${holder.hostname} (started ${holder.startedAt})`;
    super(
      ErrorCodes.storeLocked,
      where.sameProcess
        ? `PGlite data directory ${directory} is already open in another store of this ${who}; close that store first, or share it`
        : `PGlite data directory ${directory} is in use by ${who}; close that store or stop that process first ` +
            `(if that process is gone and this message persists, delete ${where.lockFile})`,
    );
    this.directory = directory;
    this.holder = holder;
  }
}

/**
 * A projection partition stopped after a handler kept failing (with `onFailure: 'stop'`).
 * Fix the handler, then `resumeProjection` (or `annals projections resume`).
 */
export class ProjectionStoppedError extends AnnalsError {
  readonly projection: string;
  readonly partition: number;
  readonly reason: string;

  constructor(projection: string, partition: number, reason: string) {
    super(ErrorCodes.projectionStopped, `projection '${projection}' partition ${partition} is stopped: ${reason}`);
    this.projection = projection;
    this.partition = partition;
    this.reason = reason;
  }
}

/** A consumer's partition stopped after its handler kept failing (onFailure: 'stop'). */
export class ConsumerStoppedError extends AnnalsError {
  readonly consumer: string;
  readonly partition: number;
  readonly reason: string;

  constructor(consumer: string, partition: number, reason: string) {
    super(ErrorCodes.consumerStopped, `consumer '${consumer}' partition ${partition} is stopped: ${reason}`);
    this.consumer = consumer;
    this.partition = partition;
    this.reason = reason;
  }
}

/** `catchUpConsumers` did not reach what was committed before the call in time. */
export class ConsumerTimeoutError extends AnnalsError {
  readonly consumers: readonly string[];

  constructor(consumers: readonly string[], timeoutMs: number, detail: string) {
    super(ErrorCodes.consumerTimeout, `consumers ${consumers.join(', ')} did not catch up within ${timeoutMs} ms: ${detail}`);
    this.consumers = consumers;
  }
}

/** `catchUpProjections` did not reach the head of the log in time. */
export class ProjectionTimeoutError extends AnnalsError {
  readonly projections: readonly string[];

  constructor(projections: readonly string[], timeoutMs: number, detail: string) {
    super(ErrorCodes.projectionTimeout, `projections ${projections.join(', ')} did not catch up within ${timeoutMs} ms: ${detail}`);
    this.projections = projections;
  }
}

/** A dead letter could not be retried or skipped: unknown id, already resolved, or its generation retired. */
export class DeadLetterError extends AnnalsError {
  readonly id: string;

  constructor(id: string, message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.deadLetter, `dead letter ${id}: ${message}`, options);
    this.id = id;
  }
}

/** A projection name that none of the given definitions has. */
export class UnknownProjectionError extends AnnalsError {
  readonly projection: string;

  constructor(projection: string, known: readonly string[]) {
    super(ErrorCodes.unknownProjection, `no projection named '${projection}' (known: ${known.join(', ') || 'none'})`);
    this.projection = projection;
  }
}

/**
 * A projection would write into a Postgres schema or view that Annals did not create for
 * it: another store's read model, a user's own view in the projection's `readSchema`, or
 * a schema of the same name made by hand. Nothing was dropped or replaced. Give the
 * projection another `readSchema`, or rename or drop the other object yourself.
 *
 * @example
 * ```ts
 * if (error instanceof SchemaConflictError) console.log(error.schema, error.relation, error.owner);
 * ```
 */
export class SchemaConflictError extends AnnalsError {
  /** The schema in question. */
  readonly schema: string;
  /** The view or table in it, when the conflict is about one relation. */
  readonly relation: string | undefined;
  /** Who created it, as its Postgres comment records (undefined: not Annals). */
  readonly owner: string | undefined;

  constructor(message: string, where: { schema: string; relation?: string; owner?: string }) {
    super(ErrorCodes.schemaConflict, message);
    this.schema = where.schema;
    this.relation = where.relation;
    this.owner = where.owner;
  }
}

/**
 * No database connection came free within `connectionTimeoutMs` (default 30 s): every
 * connection of the pool (PGlite's one) was held the whole time. The usual cause is a
 * `withTransaction` callback that calls the store instead of its `tx`: it needs a second
 * connection while holding one, and enough such callbacks at once wait for each other
 * for ever. Use `tx` inside transactions, or raise `maxConnections` (or
 * `connectionTimeoutMs`, if the calls are only slow). Projection workers retry it.
 *
 * @example
 * ```ts
 * if (error instanceof ConnectionTimeoutError) console.log(error.timeoutMs, error.poolSize, error.backend);
 * ```
 */
export class ConnectionTimeoutError extends AnnalsError {
  readonly timeoutMs: number;
  /** Connections in the pool (1 for PGlite). */
  readonly poolSize: number;
  readonly backend: 'postgres' | 'pglite';

  constructor(message: string, where: { timeoutMs: number; poolSize: number; backend: 'postgres' | 'pglite' }, options?: { cause?: unknown }) {
    super(ErrorCodes.connectionTimeout, message, options);
    this.timeoutMs = where.timeoutMs;
    this.poolSize = where.poolSize;
    this.backend = where.backend;
  }
}
