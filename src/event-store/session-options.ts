/** What the event store's methods take (and `countEvents` returns). Types only. */

export interface ReadStreamOptions {
  /** Lowest version to return, inclusive (default 1). */
  fromVersion?: number;
  /** Highest version to return, inclusive (default: the stream's end). */
  toVersion?: number;
  /** `'backward'` returns the same range newest first; `limit` then keeps the newest. */
  direction?: 'forward' | 'backward';
  limit?: number;
}

export interface ReadStreamFromSnapshotOptions {
  /** The snapshot shape wanted (see `snapshots.version` in `defineAggregate`). */
  snapshotVersion: number;
  /** Most events to return after the snapshot (default 1,000); read on with readStream. */
  limit?: number;
}

export interface ReadAllOptions {
  /** Return events after this global position (exclusive); default: from the start. */
  after?: bigint;
  /** At most this many events; default: everything up to the head. */
  limit?: number;
  /** Only events of these types. */
  types?: readonly string[];
  /** Only events of streams in these categories (`post` for `post-42`). */
  categories?: readonly string[];
  /**
   * Only the events of one partition of the log: those whose key falls in partition
   * `index` (from 0) of `count` by `partitionOfKey(key, count)`, the split consumers
   * share their work by. The key is the stream id; with `key: 'ordering'` it is the
   * outbox's ordering key (a message written with `writeMessage` counts under the key it
   * was given). Postgres filters, so the other partitions' events are never sent.
   */
  partition?: LogPartition;
}

/** One of `count` partitions of the log (readAll's and countEvents' `partition`). */
export interface LogPartition {
  index: number;
  count: number;
  /** What is partitioned: `stream` (the stream id, the default) or `ordering` (the outbox's ordering key). */
  key?: 'stream' | 'ordering';
}

/** Which events `countEvents` counts: those `readAll` would return, up to `until`. */
export interface CountEventsOptions {
  /** Count events after this global position (exclusive); default: from the start. */
  after?: bigint;
  /** Count events up to this global position (inclusive); default: up to the head. */
  until?: bigint;
  /** Only events of these types. */
  types?: readonly string[];
  /** Only events of streams in these categories. */
  categories?: readonly string[];
  /** Only the events of one partition of the log (see ReadAllOptions). */
  partition?: LogPartition;
}

/** What `countEvents` found. */
export interface EventCount {
  /** How many events matched. */
  count: number;
  /** When the first of them (the lowest position) was recorded; `null` when none matched. */
  oldestRecordedAt: Date | null;
}

export interface ReadAllCommittedOptions extends ReadAllOptions {
  /** Return events up to this global position (inclusive); default: every committed one. */
  until?: bigint;
}

export interface IterateStreamOptions extends Omit<ReadStreamOptions, 'limit'> {
  /** Events fetched per round trip (default 1,000). */
  batchSize?: number;
}

export interface IterateAllOptions extends Omit<ReadAllOptions, 'limit'> {
  /** Events fetched per round trip (default 1,000). */
  batchSize?: number;
}

/** Options of `withTransaction`. */
export interface TransactionOptions {
  /**
   * Whether the transaction may append to the log (default true). With `false` it is not
   * registered as an appender: its writes never hold back readers of the log, and
   * `appendToStream` in it throws a ValidationError.
   */
  appends?: boolean;
}
