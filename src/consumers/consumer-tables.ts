import { sql, type ColumnType, type Generated, type Kysely } from 'kysely';
import type { EventStoreTransaction } from '../event-store/event-store.js';

/**
 * Kysely table types for the log-consumer engine's tables (migrations 0005, 0007, 0010).
 * bigint columns are read as `string` (pg) or `bigint` (PGlite); convert with `BigInt(...)`.
 */
type Int8 = ColumnType<string | bigint, string | bigint | number, string | bigint | number>;
/** An int8 column with a default. */
type Int8Generated = ColumnType<string | bigint, string | bigint | number | undefined, string | bigint | number>;
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null, Date | string | null>;

/** One partition of one generation of a consumer: its checkpoint and its lease. */
export interface ConsumerPartitionsTable {
  consumer: string;
  generation: number;
  partition: number;
  /** The checkpoint: the global position processed up to. */
  position: Int8Generated;
  owner: string | null;
  lease_expires_at: NullableTimestamp;
  heartbeat_at: NullableTimestamp;
  events_processed: Int8Generated;
  retries: Int8Generated;
  dead_lettered: Int8Generated;
  throughput: Generated<number>;
  /** Why a handler failure stopped the partition (onFailure: 'stop'), or null. */
  stopped_error: string | null;
  caught_up: Generated<boolean>;
  updated_at: Timestamp;
}

/** A process running consumers: its heartbeat, and the version of each consumer it runs. */
export interface ConsumerWorkersTable {
  worker_id: string;
  consumers: string[];
  /** `{ [consumer]: version }`. */
  versions: ColumnType<Record<string, number>, string, string>;
  host: string;
  pid: number;
  started_at: Timestamp;
  heartbeat_at: Timestamp;
}

/** An event a consumer's handler kept failing on; the consumer went on past it. */
export interface ConsumerDeadLettersTable {
  id: Int8Generated;
  consumer: string;
  generation: number;
  partition: number;
  global_position: Int8;
  event_id: string;
  stream_id: string;
  stream_version: Int8;
  event_type: string;
  error_message: string;
  error_stack: string | null;
  attempts: number;
  status: Generated<'pending' | 'retried' | 'skipped'>;
  failed_at: Timestamp;
  resolved_at: NullableTimestamp;
}

export interface ConsumerTables {
  consumer_partitions: ConsumerPartitionsTable;
  consumer_workers: ConsumerWorkersTable;
  consumer_dead_letters: ConsumerDeadLettersTable;
}

/** The engine's tables, typed, on the transaction's connection and in the store's schema. */
export const consumerTables = (tx: EventStoreTransaction) => (tx.db as Kysely<ConsumerTables>).withSchema(tx.schema);

/** The database's clock: leases and heartbeats are compared on one clock, not each process's. */
export const now = sql<Date>`now()`;

/** When a lease taken or renewed now lapses. */
export const leaseExpiry = (ttlMs: number) => sql<Date>`now() + make_interval(secs => ${ttlMs}::double precision / 1000)`;

/** The columns that name one partition of one generation: a where clause. */
export const unitKey = (key: { consumer: string; generation: number; partition: number }) => ({
  consumer: key.consumer,
  generation: key.generation,
  partition: key.partition,
});
