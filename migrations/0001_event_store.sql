-- Event store: streams and the global log.
-- Applied by src/database/migrator.ts with search_path set to the store's schema, so
-- names here are unqualified and every store lives in a schema of its own.

-- One row per stream: its current version and its deletion / retention state.
CREATE TABLE streams (
  stream_id       text        PRIMARY KEY,
  category        text        NOT NULL,
  -- Number of events ever appended; the last event's version. Truncation and deletion
  -- never lower it, so versions and event ids are never reused.
  version         bigint      NOT NULL CHECK (version >= 0),
  -- Retention point: stream reads return only events with version >= truncate_before.
  truncate_before bigint      NOT NULL DEFAULT 0 CHECK (truncate_before >= 0),
  -- Tombstone: set by a soft delete, cleared when the stream is recreated.
  deleted_at      timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX streams_category_idx ON streams (category);

-- The global log. global_position is derived from the appending transaction's id
-- (xid << 20 | n-th event of that transaction), so ordering by position is ordering by
-- transaction id; readers only return positions of transactions below their snapshot's
-- xmin, which have all finished. See docs/global-log.md for why this never skips.
CREATE TABLE events (
  global_position bigint      PRIMARY KEY,
  stream_id       text        NOT NULL,
  stream_version  bigint      NOT NULL CHECK (stream_version > 0),
  event_id        uuid        NOT NULL,
  category        text        NOT NULL,
  type            text        NOT NULL,
  schema_version  integer     NOT NULL DEFAULT 1 CHECK (schema_version > 0),
  data            jsonb       NOT NULL,
  metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
  recorded_at     timestamptz NOT NULL DEFAULT now(),
  -- No foreign key to streams: the append statement writes both in one statement, and a
  -- per-event FK check would cost a lookup and a row lock for every event.
  CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
  CONSTRAINT events_event_id_key UNIQUE (event_id)
);

-- readAll filtered by category or type walks these in position order.
CREATE INDEX events_category_position_idx ON events (category, global_position);
CREATE INDEX events_type_position_idx ON events (type, global_position);

-- Raised by the append statement when one transaction would append more events than the
-- 20 low bits of a global position can number.
CREATE FUNCTION annals_transaction_too_large(max_events integer) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'one transaction may append at most % events', max_events
    USING ERRCODE = 'AN001';
END;
$$;
