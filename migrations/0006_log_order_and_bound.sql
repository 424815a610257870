-- The global log's promises made unconditional (docs/global-log.md):
-- 1. a stream's events appear in the log in version order (streams.last_position);
-- 2. readers are held back only by transactions that append to this store
--    (annals_log_bound, with appenders registered by an advisory lock);
-- 3. positions stay monotone when the store moves to another Postgres cluster, whose
--    transaction ids start lower (global_log.xid_offset, raised by migrate()).

-- The highest global position of the stream's events. An append whose transaction id
-- would put its events below it is refused (AN002): a transaction's id is fixed at its
-- first write, possibly before another writer appended to the stream and committed.
ALTER TABLE streams ADD COLUMN last_position bigint NOT NULL DEFAULT 0;
UPDATE streams s
   SET last_position = coalesce((SELECT max(e.global_position) FROM events e WHERE e.stream_id = s.stream_id), 0);

-- One row: what is added to this cluster's transaction ids to make global positions.
-- 0 on the cluster the store was created on; raised by migrate() after the store was
-- restored into a cluster whose transaction counter is behind the stored log.
CREATE TABLE global_log (
  singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
  xid_offset  bigint      NOT NULL DEFAULT 0 CHECK (xid_offset >= 0),
  raised_at   timestamptz
);
INSERT INTO global_log DEFAULT VALUES;

-- Raised by an append whose position would fall below the stream's last position.
-- DETAIL carries the stream's version, for the ConcurrencyError the client makes of it.
CREATE FUNCTION annals_log_order_violated(stream_id text, last_position bigint, version bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'stream % has an event at global position % from a transaction newer than this one; retry the transaction', stream_id, last_position
    USING ERRCODE = 'AN002', DETAIL = version::text;
END;
$$;

-- Raised when the log holds positions this cluster's transaction ids have not reached:
-- the store was moved to another cluster and migrate() has not been run there.
CREATE FUNCTION annals_log_ahead(log_max bigint, horizon bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the log holds global position % but this server''s transaction ids are only at %; run migrate() (annals migrate) to raise the position offset', log_max, horizon
    USING ERRCODE = 'AN003', DETAIL = log_max::text || ' ' || horizon::text;
END;
$$;

-- The first global position a reader with snapshot `snap` must not return yet.
--
-- Appenders to this store hold the transaction-level advisory lock
-- (1095650892, appender_key) shared from before their transaction gets an id. Given the
-- statement's snapshot, the bound is the smallest of the snapshot's xmax and the id of
-- every transaction running at the snapshot that (read in this order, each step after
-- the snapshot was taken):
--   a. holds the appender lock (pg_locks) and has that id (pg_stat_activity), or
--   b. has committed since (pg_xact_status) and, seen in a fresh snapshot, has events in
--      this store (or its commit is not visible yet, or this transaction is not read
--      committed, where a fresh snapshot cannot be had: then it counts anyway).
-- Transactions of other databases or that never append are passed over. The proof is in
-- docs/global-log.md; the order of a, then b, is part of it. Checking b's events keeps
-- the bound from moving back when an unrelated transaction commits, so a reader's
-- successive statements see an ever higher bound.
CREATE FUNCTION annals_log_bound(snap pg_snapshot, appender_key integer, xid_offset bigint, log_max bigint, events regclass)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  visible boolean;
  appended boolean;
  horizon bigint := pg_snapshot_xmax(snap)::text::bigint;
  own bigint := pg_current_xact_id_if_assigned()::text::bigint;
  running bigint[];
  appenders integer[];
  appender_xids bigint[];
  candidate bigint;
BEGIN
  -- Every committed event has an id below the horizon (or is this transaction's own).
  IF log_max IS NOT NULL AND (log_max >> 20) >= greatest(horizon, coalesce(own + 1, 0)) + xid_offset THEN
    -- Raised here rather than through annals_log_ahead: this body runs with the
    -- caller's search_path, which need not include the store's schema.
    RAISE EXCEPTION 'the log holds global position % but this server''s transaction ids are only at %; run migrate() (annals migrate) to raise the position offset', log_max, (horizon + xid_offset) << 20
      USING ERRCODE = 'AN003', DETAIL = log_max::text || ' ' || ((horizon + xid_offset) << 20)::text;
  END IF;
  SELECT array_agg(x::text::bigint ORDER BY x) INTO running FROM pg_snapshot_xip(snap) AS x;
  IF running IS NULL THEN
    RETURN (horizon + xid_offset) << 20;
  END IF;
  SELECT array_agg(l.pid) INTO appenders
    FROM pg_locks l
   WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted
     AND l.classid = 1095650892::oid AND l.objid = appender_key::oid
     AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database());
  IF appenders IS NOT NULL THEN
    -- pg_stat_activity is cached per transaction: read it anew.
    PERFORM pg_stat_clear_snapshot();
    SELECT array_agg(a.backend_xid::text::bigint) INTO appender_xids
      FROM pg_stat_get_activity(NULL) a
     WHERE a.pid = ANY (appenders) AND a.backend_xid IS NOT NULL;
  END IF;
  FOREACH candidate IN ARRAY running LOOP
    -- backend_xid is the 32-bit form; running ids lie within 2^31 of each other.
    IF (candidate % 4294967296) = ANY (coalesce(appender_xids, '{}')) THEN
      RETURN (candidate + xid_offset) << 20;
    END IF;
    IF pg_xact_status(candidate::text::xid8) = 'committed' THEN
      IF current_setting('transaction_isolation') <> 'read committed' THEN
        RETURN (candidate + xid_offset) << 20;
      END IF;
      -- Each EXECUTE takes a fresh snapshot. A commit is in the commit log a moment before
      -- it is visible to new snapshots: wait that moment out (briefly; else count it).
      FOR attempt IN 1..200 LOOP
        EXECUTE format('SELECT pg_visible_in_snapshot($1, pg_current_snapshot()),
                               EXISTS (SELECT 1 FROM %s WHERE global_position >= $2 AND global_position < $3)', events)
          INTO visible, appended
          USING candidate::text::xid8, (candidate + xid_offset) << 20, (candidate + xid_offset + 1) << 20;
        EXIT WHEN visible;
        PERFORM pg_sleep(0.0005);
      END LOOP;
      IF appended OR NOT visible THEN
        RETURN (candidate + xid_offset) << 20;
      END IF;
    END IF;
  END LOOP;
  RETURN (horizon + xid_offset) << 20;
END;
$$;
