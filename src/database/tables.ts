import type { ColumnType, Generated } from 'kysely';

/**
 * Kysely table types for the event store's schema (see `migrations/0001_event_store.sql`).
 * bigint columns are read as `string` (pg) or `bigint` (PGlite, see pglite-pool.ts);
 * the event store converts them with `BigInt(...)`.
 */
type Int8 = ColumnType<string | bigint | number, string | bigint | number, string | bigint | number>;

export interface StreamsTable {
  stream_id: string;
  category: string;
  version: Int8;
  truncate_before: Generated<Int8>;
  history_start: Generated<Int8>;
  deleted_at: ColumnType<Date | null, Date | string | null, Date | string | null>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface EventsTable {
  global_position: Int8;
  stream_id: string;
  stream_version: Int8;
  event_id: string;
  category: string;
  type: string;
  schema_version: number;
  data: unknown;
  metadata: unknown;
  recorded_at: Generated<Date>;
}

export interface MigrationsTable {
  version: number;
  name: string;
  checksum: string;
  applied_at: Generated<Date>;
}

export interface SnapshotsTable {
  stream_id: string;
  snapshot_version: number;
  stream_version: Int8;
  state: unknown;
  created_at: Generated<Date>;
}

export interface CheckpointsTable {
  name: string;
  position: Int8;
  updated_at: Generated<Date>;
}

/** Which streams hold personal fields of which data subject (migration 0016). */
export interface PersonalStreamsTable {
  subject: string;
  stream_id: string;
}

/** Where the archive stands (migration 0017): one row. */
export interface ArchiveStateTable {
  id: Generated<boolean>;
  archived_through: ColumnType<string | bigint, string | bigint, string | bigint>;
  archived_events: ColumnType<string | bigint, string | bigint, string | bigint>;
  last_archived_at: ColumnType<Date | null, Date | string | null, Date | string | null>;
}

export interface EventStoreTables {
  /** The hot log and the archive together (a view): what every read of the log reads. */
  events_all: EventsTable;
  events_archive: EventsTable;
  archive_state: ArchiveStateTable;
  personal_streams: PersonalStreamsTable;
  checkpoints: CheckpointsTable;
  snapshots: SnapshotsTable;
  streams: StreamsTable;
  events: EventsTable;
  annals_migrations: MigrationsTable;
}
