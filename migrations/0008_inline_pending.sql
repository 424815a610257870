-- Events an inline projection's live generation still has to apply.
--
-- An inline append applies a projection only when the appending code's version is the
-- live generation's: code of another version (a rolling deploy, a rollback) would write
-- its own schema and semantics into tables it did not create. It records here, in the
-- append's transaction, one row per event of the projection's types instead, and code of
-- the live generation's version applies them (src/projections/inline-pending.ts): the
-- next inline append to the same stream, before its own events (it holds the stream's
-- row lock, so every earlier append to the stream is committed), or the workers' sweep.
-- When the generation is retired its rows are deleted: the rebuilt generation applied
-- those events as fresh, since the old code never saw them (rebuild.ts).
CREATE TABLE projection_inline_pending (
  projection      text    NOT NULL,
  generation      integer NOT NULL,
  global_position bigint  NOT NULL,
  stream_id       text    NOT NULL,
  PRIMARY KEY (projection, generation, global_position),
  FOREIGN KEY (projection, generation) REFERENCES projection_generations ON DELETE CASCADE
);

-- An appender applies its stream's rows, in position order.
CREATE INDEX projection_inline_pending_stream_idx ON projection_inline_pending (projection, generation, stream_id, global_position);
