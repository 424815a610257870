-- Archiving (src/archive/, docs/archive.md): events moved out of the hot log by global
-- position, oldest first, into a table of the same shape. The hot table keeps what is
-- newer than the archive point, densely (whole pages at its start empty out), so appends
-- and reads of recent events cost what they cost before the archive grew. Every read of
-- the log reads `events_all`, both tables in one statement: an event is in exactly one
-- of them in any snapshot, so a reader never skips one that is being moved.
CREATE TABLE events_archive (
  global_position bigint      PRIMARY KEY,
  stream_id       text        NOT NULL,
  stream_version  bigint      NOT NULL CHECK (stream_version > 0),
  event_id        uuid        NOT NULL,
  category        text        NOT NULL,
  type            text        NOT NULL,
  schema_version  integer     NOT NULL CHECK (schema_version > 0),
  data            jsonb       NOT NULL,
  metadata        jsonb       NOT NULL,
  recorded_at     timestamptz NOT NULL,
  CONSTRAINT events_archive_stream_version_key UNIQUE (stream_id, stream_version),
  CONSTRAINT events_archive_event_id_key UNIQUE (event_id)
);

CREATE INDEX events_archive_category_position_idx ON events_archive (category, global_position);
CREATE INDEX events_archive_type_position_idx ON events_archive (type, global_position);

-- Where the archive stands: everything at or below `archived_through` that is still in
-- the log is in events_archive.
CREATE TABLE archive_state (
  id               boolean     PRIMARY KEY DEFAULT true CHECK (id),
  archived_through bigint      NOT NULL DEFAULT 0 CHECK (archived_through >= 0),
  archived_events  bigint      NOT NULL DEFAULT 0 CHECK (archived_events >= 0),
  last_archived_at timestamptz
);
INSERT INTO archive_state DEFAULT VALUES;

CREATE VIEW events_all AS
  SELECT global_position, stream_id, stream_version, event_id, category, type, schema_version, data, metadata, recorded_at FROM events
  UNION ALL
  SELECT global_position, stream_id, stream_version, event_id, category, type, schema_version, data, metadata, recorded_at FROM events_archive;
