-- Where a stream's current life begins: 1, or the first version after it was deleted and
-- recreated. Events before it belong to the old life and are rightly left out of a
-- rebuild; events between it and truncate_before were truncated away, and an aggregate
-- that needs them must be refused rather than rebuilt wrong (StreamTruncatedError).
ALTER TABLE streams ADD COLUMN history_start bigint NOT NULL DEFAULT 1 CHECK (history_start >= 1);
