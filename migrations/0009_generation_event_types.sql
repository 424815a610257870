-- What each generation's code handles: its event types and stream categories (NULL: every
-- category; NULL types, a generation created before this column: taken as every type).
-- Code of another version knows only its own definition, so it reads these to tell
-- which of its appended events an inline live generation owes (types the old code never
-- handled included), and a rebuild reads them to tell history from fresh events: an
-- event of a type the live generation does not handle was never seen by it, so it is
-- history only if the log held it when the rebuild was created.
ALTER TABLE projection_generations ADD COLUMN event_types text[], ADD COLUMN categories text[];
