-- Projections: the read models built from the global log, their generations (a rebuild
-- fills a new generation while the live one keeps serving reads), the checkpoint and
-- lease of each partition, and the dead letters of events a handler could not apply.

-- One row per generation of a projection's tables. A generation's tables live in a
-- Postgres schema of their own (schema_name); readers use views in the projection's read
-- schema, which point at the live generation and are swapped in one transaction.
CREATE TABLE projection_generations (
  projection   text        NOT NULL,
  generation   integer     NOT NULL CHECK (generation > 0),
  -- The projection's `version` in the code that builds this generation. Workers only
  -- process generations of their own version, so old and new code can run side by side
  -- during a deploy.
  version      integer     NOT NULL CHECK (version > 0),
  partitions   integer     NOT NULL CHECK (partitions > 0),
  schema_name  text        NOT NULL,
  read_schema  text        NOT NULL,
  status       text        NOT NULL CHECK (status IN ('building', 'live', 'retired')),
  -- Where a rebuild started (0: the beginning of the log), and the log's head then: the
  -- denominator of its progress.
  started_from bigint      NOT NULL DEFAULT 0,
  -- The log's head when the generation was created: events up to it are history, applied
  -- as a replay (large batches, `replayBatch`, `replaying` set so handlers skip side
  -- effects such as sending a notification for a like from last year).
  replay_until bigint      NOT NULL DEFAULT 0,
  created_at   timestamptz NOT NULL DEFAULT now(),
  live_since   timestamptz,
  retired_at   timestamptz,
  PRIMARY KEY (projection, generation)
);

-- At most one live and one building generation per projection.
CREATE UNIQUE INDEX projection_generations_live_key ON projection_generations (projection) WHERE status = 'live';
CREATE UNIQUE INDEX projection_generations_building_key ON projection_generations (projection) WHERE status = 'building';

-- One row per partition of a generation: its checkpoint and who owns it. The worker
-- that owns a partition locks this row (FOR UPDATE) in each batch's transaction and
-- moves `position` there, with the read-model writes: both commit or neither does. The
-- lock also fences a worker whose lease expired: it finds another owner and stops.
CREATE TABLE projection_partitions (
  projection       text        NOT NULL,
  generation       integer     NOT NULL,
  partition        integer     NOT NULL CHECK (partition >= 0),
  position         bigint      NOT NULL DEFAULT 0 CHECK (position >= 0),
  owner            text,
  lease_expires_at timestamptz,
  heartbeat_at     timestamptz,
  -- Counters for status: events applied, handler retries, events dead-lettered.
  events_processed bigint      NOT NULL DEFAULT 0,
  retries          bigint      NOT NULL DEFAULT 0,
  dead_lettered    bigint      NOT NULL DEFAULT 0,
  -- Events per second over the owner's last few seconds, as it last reported.
  throughput       double precision NOT NULL DEFAULT 0,
  -- Set when a handler failure stopped this partition (onFailure: 'stop').
  stopped_error    text,
  caught_up        boolean     NOT NULL DEFAULT false,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (projection, generation, partition),
  FOREIGN KEY (projection, generation) REFERENCES projection_generations ON DELETE CASCADE
);

-- Workers alive: how many share a projection's partitions (each takes its fair share).
CREATE TABLE projection_workers (
  worker_id    text        PRIMARY KEY,
  projections  text[]      NOT NULL,
  host         text        NOT NULL,
  pid          integer     NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);

-- Events a handler kept failing on. The projection went on past them; `annals
-- projections dead-letters retry` applies one again (after a fix), `skip` gives up on it.
CREATE TABLE projection_dead_letters (
  id              bigserial   PRIMARY KEY,
  projection      text        NOT NULL,
  generation      integer     NOT NULL,
  partition       integer     NOT NULL,
  global_position bigint      NOT NULL,
  event_id        uuid        NOT NULL,
  stream_id       text        NOT NULL,
  stream_version  bigint      NOT NULL,
  event_type      text        NOT NULL,
  error_message   text        NOT NULL,
  error_stack     text,
  attempts        integer     NOT NULL,
  status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'retried', 'skipped')),
  failed_at       timestamptz NOT NULL DEFAULT now(),
  resolved_at     timestamptz,
  UNIQUE (projection, generation, global_position)
);

CREATE INDEX projection_dead_letters_pending_idx ON projection_dead_letters (projection, status);
