/** Errors of appends and reads: a stream's version, an event's id, size, schema or history. */
import { AnnalsError, ErrorCodes, type ValidationIssue } from './annals-error.js';

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
  /** Why it cannot be read, without the event's description (the message has both). */
  readonly reason: string;
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
    this.reason = reason;
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
