-- The version of each projection a worker runs: workers share a projection's partitions
-- per version (old and new code side by side during a rolling deploy each own the
-- partitions of their own generation), and status names the workers whose version has
-- no generation left to process (code rolled back after a switch).
ALTER TABLE projection_workers ADD COLUMN versions jsonb NOT NULL DEFAULT '{}'::jsonb;
