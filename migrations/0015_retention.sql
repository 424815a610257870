-- Retention (src/retention/, docs/retention.md): what the retention job physically removed
-- from the log, per category. Events are removed per stream, oldest first (a prefix of
-- each stream, by the category's policy); the stream's truncate_before moves past them, so
-- readStream and aggregate loads see the removal as a truncation. `removed_through` is the
-- highest global position removed: the category's history after it is complete, so a
-- rebuild that starts before it would replay an incomplete history.
CREATE TABLE retention_removed (
  category        text        PRIMARY KEY,
  removed_through bigint      NOT NULL CHECK (removed_through >= 0),
  removed_events  bigint      NOT NULL DEFAULT 0 CHECK (removed_events >= 0),
  last_removed_at timestamptz NOT NULL DEFAULT now()
);
