-- Event ids are unique across the hot log and the archive. Each table has its own unique
-- index, so an append checks the archive itself (append-statement.ts) and, when one of
-- its ids is there, fails as a duplicate in the hot table would: the client then finds
-- the earlier append in events_all and answers an idempotent retry with its result,
-- instead of writing the event a second time (which would also stop a restore).
CREATE FUNCTION annals_event_id_archived(event_id uuid) RETURNS uuid
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'duplicate key value violates unique constraint "events_event_id_key"'
    USING ERRCODE = 'unique_violation', CONSTRAINT = 'events_event_id_key',
          DETAIL = format('Key (event_id)=(%s) is in the archive.', event_id);
END;
$$;

-- A snapshot write looks up the data subjects of its stream (event-store/postgres/snapshots.ts):
-- it must not save a state built before one of them was forgotten.
CREATE INDEX personal_streams_stream_idx ON personal_streams (stream_id);
