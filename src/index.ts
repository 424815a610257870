/**
 * Annals' public API. Everything importable from 'annals' is listed here by name;
 * test/public-api.unit.test.ts keeps the list from growing by accident.
 */
export { createEventStore, type EventStoreOptions } from './event-store/postgres/create-event-store.js';
export type {
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
  StreamFromSnapshot,
  StreamInfo,
  TransactionOptions,
} from './event-store/event-store.js';
export type { ExpectedVersion } from './event-store/expected-version.js';
export type { Snapshot } from './event-store/event-store.js';
export {
  defineAggregate,
  type Aggregate,
  type AggregateDefinition,
  type AnyAggregate,
  type Command,
  type CommandInput,
  type CommandSchemas,
  type SnapshotPolicy,
  type StateOf,
} from './aggregates/define-aggregate.js';
export {
  upcast,
  versionedEvent,
  type DomainEvent,
  type DomainEventInput,
  type EventData,
  type EventSchemas,
  type Upcaster,
  type VersionedEvent,
} from './aggregates/event-schemas.js';
export { handleCommand, type CommandResult, type HandleCommandOptions } from './aggregates/handle-command.js';
export type { CommandLogger, SnapshotCounts } from './aggregates/snapshots.js';
export type { StateCachePolicy } from './aggregates/state-cache.js';
export {
  aggregateStream,
  loadAggregate,
  type AggregateStreamOptions,
  type LoadedAggregate,
} from './aggregates/load-aggregate.js';
export { categoryOf } from './event-store/stream-name.js';
export {
  defineProjection,
  partitionOfKey,
  readSchemaOf,
  type AnyProjection,
  type ProjectedEvent,
  type Projection,
  type ProjectionContext,
  type ProjectionDefinition,
} from './projections/define-projection.js';
export {
  runProjections,
  type BatchReport,
  type ProjectionLogger,
  type ProjectionRunner,
  type RunProjectionsOptions,
} from './projections/projection-worker.js';
export { catchUpProjections, type CatchUpOptions } from './projections/catch-up.js';
export { setupProjection, startRebuild, switchIfCaughtUp, type SetupOptions, type StartRebuildOptions } from './projections/rebuild.js';
export { withInlineProjections } from './projections/inline.js';
export { projectionStatus, type PartitionStatus, type ProjectionStatus, type ProjectionSummary } from './projections/status.js';
export { listDeadLetters, resumeProjection, retryDeadLetter, skipDeadLetter, type DeadLetter } from './projections/dead-letters.js';
export type { ConnectionConfig } from './database/connection.js';
export type { AnnalsConfig } from './cli/config.js';
export type { MigrationResult } from './database/migrator.js';
export {
  AnnalsError,
  ConcurrencyError,
  DeadLetterError,
  DomainError,
  ErrorCodes,
  EventSchemaError,
  IdempotencyConflictError,
  LogAheadError,
  MigrationError,
  ProjectionStoppedError,
  ProjectionTimeoutError,
  StoreClosedError,
  StoreLockedError,
  SchemaConflictError,
  ConnectionTimeoutError,
  StreamDeletedError,
  StreamTruncatedError,
  TransactionTooLargeError,
  UnknownProjectionError,
  ValidationError,
  type ErrorCode,
  type StoreLockHolder,
  type ValidationIssue,
} from './errors.js';
