/**
 * Annals' public API. Everything importable from 'annals' is listed here by name;
 * test/public-api.unit.test.ts keeps the list from growing by accident.
 */
export { createEventStore, type EventStoreOptions, type PrivacyOptions } from './event-store/postgres/create-event-store.js';
export type {
  AppendOptions,
  AppendResult,
  EventStore,
  EventStoreSession,
  EventStoreTransaction,
  IterateAllOptions,
  IterateStreamOptions,
  LogHoldback,
  LogPartition,
  NewEvent,
  ReadAllOptions,
  ReadAllCommittedOptions,
  CountEventsOptions,
  EventCount,
  ReadStreamFromSnapshotOptions,
  ReadStreamOptions,
  RecordedEvent,
  StreamFromSnapshot,
  StreamInfo,
  TransactionOptions,
} from './event-store/event-store.js';
export type { ExpectedVersion } from './event-store/expected-version.js';
export type { Snapshot } from './event-store/event-store.js';
export type { WriteSnapshotOptions } from './event-store/records.js';
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
} from './event-schemas/versioned-event.js';
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
  readSchemaOf,
  type AnyProjection,
  type PersonalColumns,
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
// Read your writes: wait until projections have processed a write's position.
export { waitForProjections, type WaitForProjectionsOptions } from './projections/wait-for-projections.js';
export { startRebuild, type StartRebuildOptions } from './projections/rebuild.js';
// Workers set projections up themselves; a deploy step may do it first, so that the read
// views exist before the service that queries them starts.
export { setupProjection, type SetupOptions } from './projections/rebuild.js';
export {
  checkSchemas,
  type SchemaCheckCode,
  type SchemaCheckExample,
  type SchemaCheckOptions,
  type SchemaCheckReport,
  type SchemaCheckResult,
} from './schemas/check-schemas.js';
export type { StoredKind } from './schemas/stored-events.js';
export { defineRetention, type Retention, type RetentionPolicy, type RetentionRule } from './retention/define-retention.js';
export { runRetention, type RetentionReport, type RetentionResult, type RetentionRunOptions } from './retention/run-retention.js';
export type { RetentionHolder } from './retention/holdback.js';
export { startRetention, type RetentionRunner, type StartRetentionOptions } from './retention/retention-runner.js';
export { retentionStatus, type RetentionRemoved, type RetentionStatus } from './retention/retention-status.js';
export { forget, forgottenStream, type ForgetOptions, type ForgetResult } from './privacy/forget.js';
export { verifyErasure, type ErasureFinding, type ErasureReport, type VerifyErasureOptions } from './privacy/verify-erasure.js';
export { blindIndex } from './privacy/blind-index.js';
export { privacyStatus, type PrivacyStatus } from './privacy/privacy-status.js';
export { erasedText, type PersonalMeta } from './privacy/personal-fields.js';
export type { PersonalData } from './privacy/personal-data.js';
export type { DataKey, KeyStore, KeyStoreDb } from './privacy/key-store.js';
export { archiveEvents, restoreArchive, type ArchiveOptions, type ArchiveReport, type RestoreOptions } from './archive/archive-events.js';
export { archiveStatus, type ArchiveStatus } from './archive/archive-status.js';
export { withInlineProjections } from './projections/inline.js';
export { projectionStatus, type PartitionStatus, type ProjectionStatus, type ProjectionSummary } from './projections/status.js';
export { listDeadLetters, resumeProjection, retryDeadLetter, skipDeadLetter, type DeadLetter } from './projections/dead-letters.js';
export { defineConsumer, type Consumer, type ConsumerContext, type ConsumerDefinition, type ConsumerMode } from './consumers/define-consumer.js';
export { runConsumers, type ConsumerRunner, type RunConsumersOptions } from './consumers/run-consumers.js';
export type { ConsumerBatchReport, ConsumerLogger, ConsumerRunOptions } from './consumers/engine-options.js';
export { consumerStatus, type ConsumerPartitionStatus, type ConsumerStatus } from './consumers/consumer-status.js';
export { catchUpConsumers, type CatchUpConsumersOptions } from './consumers/catch-up.js';
export {
  listConsumerDeadLetters,
  resumeConsumer,
  retryConsumerDeadLetter,
  skipConsumerDeadLetter,
  type ListConsumerDeadLettersOptions,
} from './consumers/consumer-dead-letters.js';
export type { ConsumerDeadLetter, DeadLetterStatus } from './consumers/dead-letters.js';
// Which partition, and so which worker, processes a key: for operations and for tests
// that reason about partitions (the same function places projections' and consumers' events).
export { partitionOfKey } from './consumers/partition-key.js';
export type { ConnectionConfig } from './database/connection.js';
export { connectionFromEnvironment, type EnvironmentConnection } from './database/environment.js';
export type { AnnalsConfig, ServiceConfig } from './annals-config.js';
export type { MigrationResult } from './database/migration-result.js';
export {
  AnnalsError,
  ConcurrencyError,
  PublishError,
  RemovedHistoryError,
  PrivacyKeyError,
  DeadLetterError,
  DomainError,
  ErrorCodes,
  EventSchemaError,
  IdempotencyConflictError,
  LogAheadError,
  MigrationError,
  ProjectionSchemaError,
  GraphQLSchemaError,
  ConsistencyDeadLetteredError,
  ConsistencyRebuildingError,
  ConsistencyStoppedError,
  ConsistencyTimeoutError,
  ProjectionStoppedError,
  ProjectionTimeoutError,
  StoreClosedError,
  StoreLockedError,
  SchemaConflictError,
  ConnectionTimeoutError,
  ConsumerStoppedError,
  DatabaseUnreachableError,
  SchemaNotMigratedError,
  ConsumerTimeoutError,
  StreamDeletedError,
  StreamTruncatedError,
  TransactionTooLargeError,
  UnknownProjectionError,
  ValidationError,
  type DatabaseTarget,
  type PublishTarget,
  type ErrorCode,
  type StoreLockHolder,
  type UnreachableReason,
  type ValidationIssue,
} from './errors.js';
