import { sql, type ColumnType, type Kysely } from 'kysely';
import type { EventStoreTransaction } from '../event-store/event-store.js';

/**
 * Kysely table types for the projections' own tables (migrations 0005, 0008, 0009): their
 * generations and what a live inline generation owes. Their partitions, workers and dead
 * letters are the consumer engine's (src/consumers/consumer-tables.ts). bigint columns
 * are read as `string` (pg) or `bigint` (PGlite); convert with `BigInt(...)`.
 */
type Int8 = ColumnType<string | bigint, string | bigint | number | undefined, string | bigint | number>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

/** One generation of a projection: a schema of tables, built from `started_from`, live, building or retired. */
export interface ProjectionGenerationsTable {
  projection: string;
  generation: number;
  /** The projection's `version` in the code that builds it. */
  version: number;
  partitions: number;
  schema_name: string;
  read_schema: string;
  status: 'building' | 'live' | 'retired';
  started_from: Int8;
  /** The log's head when the generation was created: events up to it are history. */
  replay_until: Int8;
  /** Applied by each append's transaction, not by workers (migrations/0012). */
  applied_inline: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
  live_since: NullableTimestamp;
  retired_at: NullableTimestamp;
  /** The event types and categories this generation's code handles (null: every one). */
  event_types: string[] | null;
  categories: string[] | null;
}

/** An event a live inline generation owes: appended by code of another version (inline-pending.ts). */
export interface ProjectionInlinePendingTable {
  projection: string;
  generation: number;
  global_position: Int8;
  stream_id: string;
}

export interface ProjectionTables {
  projection_generations: ProjectionGenerationsTable;
  projection_inline_pending: ProjectionInlinePendingTable;
}

/** The projections' tables, typed, on the transaction's connection and in the store's schema. */
export const projectionTables = (tx: EventStoreTransaction) => (tx.db as Kysely<ProjectionTables>).withSchema(tx.schema);

/** The database's clock, for the generations' timestamps. */
export const now = sql<Date>`now()`;
