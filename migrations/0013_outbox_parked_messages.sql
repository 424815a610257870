-- The outbox relay's parked messages (src/outbox/, docs/outbox.md). The relay publishes
-- straight from the global log (the log is the outbox: no row per message is written on
-- the way out); a row here exists only for a message that could not be published: the
-- one that failed (`parked`, with its error), and the later messages of its key and
-- destination, kept behind it in log order (`held`) so the key's order holds. A retry
-- publishes them in order and marks them `published`; a skip marks one `skipped`.
CREATE TABLE outbox_parked_messages (
  id              bigserial   PRIMARY KEY,
  -- The outbox (defineOutbox's name) and its destination.
  outbox          text        NOT NULL,
  destination     text        NOT NULL,
  -- Stable across relays and retries (derived from the event id): the broker's dedupe id.
  message_id      text        NOT NULL,
  -- The ordering key (the stream id, or the key a written message gave).
  key             text        NOT NULL,
  -- Where the event is in the log: a retry reads it again and maps it with the code of now.
  global_position bigint      NOT NULL,
  event_id        uuid        NOT NULL,
  event_type      text        NOT NULL,
  status          text        NOT NULL CHECK (status IN ('parked', 'held', 'published', 'skipped')),
  -- Why it failed: the last error (null for a held message that was never tried).
  error           text,
  attempts        integer     NOT NULL DEFAULT 0,
  parked_at       timestamptz NOT NULL DEFAULT now(),
  resolved_at     timestamptz,
  -- A batch replayed after a crash parks the same message again: it is one row.
  UNIQUE (outbox, message_id)
);

-- The relay asks, per message, whether its key is held at that destination; a retry
-- reads the key's unresolved messages in log order.
CREATE INDEX outbox_parked_messages_unresolved_idx
  ON outbox_parked_messages (outbox, destination, key, global_position)
  WHERE status IN ('parked', 'held');
