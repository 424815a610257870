-- Checkpoints of the consumers of the global log (process managers now, projection
-- workers later): the global position up to which a consumer has processed the log.
-- A consumer saves its checkpoint in the same transaction as the work it did.
CREATE TABLE checkpoints (
  name       text        PRIMARY KEY,
  position   bigint      NOT NULL CHECK (position >= 0),
  updated_at timestamptz NOT NULL DEFAULT now()
);
