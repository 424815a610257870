import { expect, it } from 'vitest';
import * as annals from '../src/index.js';

// The public API is what src/index.ts exports. This list changes only on purpose.
it('exports exactly the public API', () => {
  expect(Object.keys(annals).sort()).toEqual([
    'AnnalsError',
    'ConcurrencyError',
    'ConnectionTimeoutError',
    'ConsistencyDeadLetteredError',
    'ConsistencyRebuildingError',
    'ConsistencyStoppedError',
    'ConsistencyTimeoutError',
    'ConsumerStoppedError',
    'ConsumerTimeoutError',
    'DatabaseUnreachableError',
    'DeadLetterError',
    'DomainError',
    'ErrorCodes',
    'EventSchemaError',
    'GraphQLSchemaError',
    'IdempotencyConflictError',
    'LogAheadError',
    'MigrationError',
    'PrivacyKeyError',
    'ProjectionSchemaError',
    'ProjectionStoppedError',
    'ProjectionTimeoutError',
    'PublishError',
    'RemovedHistoryError',
    'SchemaConflictError',
    'SchemaNotMigratedError',
    'StoreClosedError',
    'StoreLockedError',
    'StreamDeletedError',
    'StreamTruncatedError',
    'TransactionTooLargeError',
    'UnknownProjectionError',
    'ValidationError',
    'aggregateStream',
    'archiveEvents',
    'archiveStatus',
    'blindIndex',
    'catchUpConsumers',
    'catchUpProjections',
    'categoryOf',
    'checkSchemas',
    'connectionFromEnvironment',
    'consumerStatus',
    'createEventStore',
    'defineAggregate',
    'defineConsumer',
    'defineProjection',
    'defineRetention',
    'erasedText',
    'forget',
    'forgottenStream',
    'handleCommand',
    'listConsumerDeadLetters',
    'listDeadLetters',
    'loadAggregate',
    'partitionOfKey',
    'privacyStatus',
    'projectionStatus',
    'readSchemaOf',
    'restoreArchive',
    'resumeConsumer',
    'resumeProjection',
    'retentionStatus',
    'retryConsumerDeadLetter',
    'retryDeadLetter',
    'runConsumers',
    'runProjections',
    'runRetention',
    'setupProjection',
    'skipConsumerDeadLetter',
    'skipDeadLetter',
    'startRebuild',
    'startRetention',
    'upcast',
    'verifyErasure',
    'versionedEvent',
    'waitForProjections',
    'withInlineProjections',
  ]);
});

it('gives every error a stable, distinct code', () => {
  const codes = Object.values(annals.ErrorCodes);
  expect(new Set(codes).size).toBe(codes.length);
  for (const code of codes) expect(code).toMatch(/^ANNALS_[A-Z_]+$/);
});

it('names categories by the category-id convention', () => {
  expect(annals.categoryOf('post-42')).toBe('post');
  expect(annals.categoryOf('order-2024-7')).toBe('order');
  expect(annals.categoryOf('settings')).toBe('settings');
  expect(annals.categoryOf('-odd')).toBe('-odd');
});
