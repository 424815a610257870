/**
 * Annals' public API. Everything importable from 'annals' is listed here by name;
 * test/public-api.unit.test.ts keeps the list from growing by accident.
 */
export { createEventStore, type EventStoreOptions } from './event-store/postgres-event-store.js';
export type {
  AppendOptions,
  AppendResult,
  EventStore,
  EventStoreSession,
  EventStoreTransaction,
  IterateAllOptions,
  IterateStreamOptions,
  NewEvent,
  ReadAllOptions,
  ReadStreamFromSnapshotOptions,
  ReadStreamOptions,
  RecordedEvent,
  StreamFromSnapshot,
  StreamInfo,
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
export {
  aggregateStream,
  loadAggregate,
  type AggregateStreamOptions,
  type LoadedAggregate,
} from './aggregates/load-aggregate.js';
export { categoryOf } from './event-store/stream-name.js';
export type { ConnectionConfig } from './database/connection.js';
export type { MigrationResult } from './database/migrator.js';
export {
  AnnalsError,
  ConcurrencyError,
  DomainError,
  ErrorCodes,
  EventSchemaError,
  IdempotencyConflictError,
  MigrationError,
  StoreClosedError,
  StreamDeletedError,
  StreamTruncatedError,
  TransactionTooLargeError,
  ValidationError,
  type ErrorCode,
  type ValidationIssue,
} from './errors.js';
