-- Personal data (src/privacy/, docs/privacy.md): which streams hold personal fields of
-- which data subject, recorded when such an event is appended. `forget` drops the
-- snapshots of these streams (a snapshot holds the state in plaintext), and verification
-- checks their events. The subjects' keys are not here: they live in the key store's own
-- schema (`<store>#keys` by default), wrapped by a master key the database never sees.
CREATE TABLE personal_streams (
  subject   text NOT NULL,
  stream_id text NOT NULL,
  PRIMARY KEY (subject, stream_id)
);
