-- Aggregate snapshots: the latest saved state of a stream, so loading an aggregate reads
-- the snapshot and only the events after it.
CREATE TABLE snapshots (
  stream_id        text        PRIMARY KEY,
  -- Version of the snapshot's shape, set by the aggregate's definition. A snapshot of
  -- another version is ignored on load (and replaced on the next save), never misread.
  snapshot_version integer     NOT NULL CHECK (snapshot_version > 0),
  -- The stream version the state includes.
  stream_version   bigint      NOT NULL CHECK (stream_version > 0),
  state            jsonb       NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now()
);
