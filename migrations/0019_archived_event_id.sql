-- The first of an append's event ids that is already in the archive (NULL when none), for
-- the append statement (src/event-store/postgres/append-statement.ts), which calls it only
-- while the archive holds events. A function rather than a subquery in the statement, so
-- that the statement's plan no longer references events_archive: Postgres locked and
-- opened the archive and its index on every append, archive empty or not, for about 8%
-- of single-event appends/s (docs/benchmarks.md, "What an append costs").
--
-- STABLE: its query sees the snapshot of the append statement that calls it, as the
-- subquery did. The search_path is the store's schema (the migrator's), whatever the
-- caller's.
CREATE FUNCTION annals_archived_event_id(batch jsonb) RETURNS uuid
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $$
BEGIN
  RETURN (SELECT a.event_id FROM events_archive a
           WHERE a.event_id = ANY (SELECT (x.event->>'id')::uuid FROM jsonb_array_elements(batch) AS x(event))
           LIMIT 1);
END;
$$;
