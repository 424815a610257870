-- The log-consumer engine (src/consumers/) owns the partitions, workers and dead letters
-- that were the projection workers' own: projections are one kind of consumer among
-- others (process managers, the outbox relay, subscriptions). The tables keep their rows;
-- they are renamed, and `projection` becomes `consumer`.
--
-- A consumer's name is unique in a store across projections and other consumers (each
-- setup refuses a name the other kind holds). A projection's partitions belong to one of
-- its generations; any other consumer has generation 1 (a later reset may start another).
-- So the partitions no longer reference projection_generations: a consumer that is not a
-- projection has no generation row.

ALTER TABLE projection_partitions RENAME TO consumer_partitions;
ALTER TABLE consumer_partitions RENAME COLUMN projection TO consumer;
ALTER TABLE consumer_partitions DROP CONSTRAINT projection_partitions_projection_generation_fkey;
ALTER TABLE consumer_partitions RENAME CONSTRAINT projection_partitions_pkey TO consumer_partitions_pkey;
ALTER TABLE consumer_partitions RENAME CONSTRAINT projection_partitions_partition_check TO consumer_partitions_partition_check;
ALTER TABLE consumer_partitions RENAME CONSTRAINT projection_partitions_position_check TO consumer_partitions_position_check;

ALTER TABLE projection_workers RENAME TO consumer_workers;
ALTER TABLE consumer_workers RENAME COLUMN projections TO consumers;
ALTER TABLE consumer_workers RENAME CONSTRAINT projection_workers_pkey TO consumer_workers_pkey;

ALTER TABLE projection_dead_letters RENAME TO consumer_dead_letters;
ALTER TABLE consumer_dead_letters RENAME COLUMN projection TO consumer;
ALTER TABLE consumer_dead_letters RENAME CONSTRAINT projection_dead_letters_pkey TO consumer_dead_letters_pkey;
ALTER TABLE consumer_dead_letters RENAME CONSTRAINT projection_dead_letters_status_check TO consumer_dead_letters_status_check;
ALTER TABLE consumer_dead_letters
  RENAME CONSTRAINT projection_dead_letters_projection_generation_global_positi_key TO consumer_dead_letters_consumer_generation_global_position_key;
ALTER INDEX projection_dead_letters_pending_idx RENAME TO consumer_dead_letters_pending_idx;
ALTER SEQUENCE projection_dead_letters_id_seq RENAME TO consumer_dead_letters_id_seq;
