-- Rate limits shared by every API process of the store (src/server/security/
-- database-rate-limit-store.ts): one row per caller and limit, holding the count of its
-- current fixed window. Counted by one statement on the database's clock, so processes
-- whose clocks differ still agree on when a window ends.
CREATE TABLE rate_limit_windows (
  -- The limit and the caller: `mutations:api-key:ci`, `queries:ip:203.0.113.7`.
  key            text        PRIMARY KEY,
  count          bigint      NOT NULL CHECK (count > 0),
  -- A row whose window has ended counts as absent: the next operation starts a new window
  -- in it, and the sweep deletes those no one came back for.
  window_ends_at timestamptz NOT NULL
);

-- The sweep finds ended windows in the order they ended.
CREATE INDEX rate_limit_windows_ends_idx ON rate_limit_windows (window_ends_at);
