/**
 * What the event store stores and hands back: events, snapshots, a stream's state. Types
 * only, like event-store.ts; the Postgres store in ./postgres/ implements them.
 */
import type { ExpectedVersion } from './expected-version.js';
import type { PersonalData } from '../privacy/personal-data.js';

/**
 * An event as a caller gives it to `appendToStream`. validation.ts checks input against
 * this shape (its schema is tied to it at compile time).
 */
export interface EventInput {
  type: string;
  data: unknown;
  metadata?: unknown;
  /** A UUID: makes the append idempotent. */
  id?: string | undefined;
  /** The event's schema version (default 1); set by aggregates from `versionedEvent`. */
  schemaVersion?: number | undefined;
  /**
   * Top-level fields of `data` that are personal data of a data subject: stored encrypted
   * with the subject's key, erased by `forget` (docs/privacy.md). Aggregates fill it in
   * from the fields their event schemas mark personal.
   */
  personal?: PersonalData[] | undefined;
}

/** An event as stored in the log and returned by every read. */
export interface RecordedEvent<
  Type extends string = string,
  Data = unknown,
  Metadata extends Record<string, unknown> = Record<string, unknown>,
> {
  streamId: string;
  /** Position in its stream: the first event of a stream has version 1. */
  version: number;
  /**
   * Position in the global log. Strictly increasing in the order readers see events;
   * not dense (there are holes), so compare positions, never count with them.
   */
  globalPosition: bigint;
  id: string;
  type: Type;
  schemaVersion: number;
  data: Data;
  metadata: Metadata;
  recordedAt: Date;
  /**
   * Personal fields of `data` whose data subject was forgotten: each reads as `null`
   * (aggregates and projections read the schema's redacted value). Absent when none.
   */
  erased?: string[];
}

/** An event to append. `id` (a UUID) makes the append idempotent; it is generated if absent. */
export type NewEvent<Type extends string = string, Data = unknown> = EventInput & {
  type: Type;
  data: Data;
};

export interface AppendOptions {
  /** Checked atomically with the append; default `'any'`. */
  expectedVersion?: ExpectedVersion;
}

export interface AppendResult {
  /** The stream's version after the append: pass it as the next `expectedVersion`. */
  nextExpectedVersion: number;
  /** Global position of the last event appended. */
  lastGlobalPosition: bigint;
  /** The stored events' ids, in order: the caller's, or those the store chose. */
  eventIds: string[];
  /**
   * Whether this call wrote the events: `false` when they were stored already and the call
   * returned that earlier append's result (an idempotent retry, docs/event-store.md).
   * Code that reacts to an append (an inline projection) reacts only when it is `true`.
   */
  written: boolean;
}

export interface StreamFromSnapshot<E extends RecordedEvent = RecordedEvent> {
  /** The snapshot of the wanted shape, or `null` when there is none. */
  snapshot: Snapshot | null;
  /** Events after the snapshot's stream version (from the start without a snapshot). */
  events: E[];
  /**
   * Where the stream stands, read in the same statement (`null`: never appended to):
   * enough to tell a missing event after the snapshot from a truncated one.
   */
  stream: { version: number; truncateBefore: number; historyStart: number } | null;
}

export interface StreamInfo {
  streamId: string;
  category: string;
  /** Number of events ever appended (truncation and deletion do not lower it). */
  version: number;
  /** Stream reads return only events with version >= this (0 or 1: nothing truncated). */
  truncateBefore: number;
  /**
   * First version of the stream's current life: 1, or the first version appended after
   * it was deleted and recreated.
   */
  historyStart: number;
  deleted: boolean;
  deletedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A session whose open transaction holds back the log's readers (see `logHoldback`). */
export interface LogHoldback {
  pid: number;
  /** The session's `application_name` ('' when unset). */
  applicationName: string;
  /** When its transaction began: readers have been held back since about then. */
  transactionStartedAt: Date;
  /** How long its transaction has been open, in milliseconds. */
  ageMs: number;
  /** `active`, `idle in transaction`, ... as in pg_stat_activity. */
  state: string;
  /** Its current or last statement. */
  query: string;
}

/** A saved state of a stream as of `streamVersion`, in the shape `snapshotVersion`. */
export interface Snapshot {
  snapshotVersion: number;
  streamVersion: number;
  state: unknown;
}

export interface WriteSnapshotOptions {
  /**
   * The stream version the state was built from when it was read (handleCommand: the
   * version before its append). Default: the snapshot's `streamVersion`.
   */
  loadedVersion?: number;
}
