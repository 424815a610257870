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
  databaseUnreachable: 'ANNALS_DATABASE_UNREACHABLE',
  notMigrated: 'ANNALS_NOT_MIGRATED',
  projectionSchema: 'ANNALS_PROJECTION_SCHEMA',
  graphqlSchema: 'ANNALS_GRAPHQL_SCHEMA',
  consistencyTimeout: 'ANNALS_CONSISTENCY_TIMEOUT',
  consistencyRebuilding: 'ANNALS_CONSISTENCY_REBUILDING',
  consistencyStopped: 'ANNALS_CONSISTENCY_STOPPED',
  consistencyDeadLettered: 'ANNALS_CONSISTENCY_DEAD_LETTERED',
  publish: 'ANNALS_PUBLISH',
  removedHistory: 'ANNALS_REMOVED_HISTORY',
  privacyKey: 'ANNALS_PRIVACY_KEY',
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
