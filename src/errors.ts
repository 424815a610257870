/**
 * Every error Annals throws on purpose, in one list: the base class and code registry
 * (errors/annals-error.ts), then one file per layer. Import errors from here.
 * docs/errors.md documents each code; test/errors-doc.unit.test.ts keeps the two in step.
 */
export { AnnalsError, DomainError, ErrorCodes, ValidationError, type ErrorCode, type ValidationIssue } from './errors/annals-error.js';
export {
  ConcurrencyError,
  EventSchemaError,
  IdempotencyConflictError,
  StreamDeletedError,
  StreamTruncatedError,
  TransactionTooLargeError,
  type ExpectedVersionDescription,
} from './errors/event-store-errors.js';
export {
  ConnectionTimeoutError,
  DatabaseUnreachableError,
  LogAheadError,
  MigrationError,
  SchemaConflictError,
  SchemaNotMigratedError,
  StoreClosedError,
  StoreLockedError,
  type DatabaseTarget,
  type StoreLockHolder,
  type UnreachableReason,
} from './errors/database-errors.js';
export {
  ConsumerStoppedError,
  ConsumerTimeoutError,
  DeadLetterError,
  ProjectionSchemaError,
  ProjectionStoppedError,
  ProjectionTimeoutError,
  UnknownProjectionError,
} from './errors/consumer-errors.js';
export { GraphQLSchemaError, type GraphQLSchemaTarget } from './errors/graphql-errors.js';
export {
  ConsistencyDeadLetteredError,
  ConsistencyRebuildingError,
  ConsistencyStoppedError,
  ConsistencyTimeoutError,
  type DeadLetteredEvent,
} from './errors/consistency-errors.js';
export { PublishError, type PublishTarget } from './errors/outbox-errors.js';
export { RemovedHistoryError } from './errors/retention-errors.js';
export { PrivacyKeyError, type PrivacyKeyProblem } from './errors/privacy-errors.js';
