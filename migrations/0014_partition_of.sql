-- The partition of a key, computed by Postgres: FNV-1a over the key's UTF-8 bytes, modulo
-- the partition count, exactly as partitionOfKey (src/consumers/partition-key.ts) does.
-- readAll's `partition` option filters with it, so a consumer's partition reads only its
-- own events instead of every event for the client to drop the other partitions' ones
-- (docs/benchmarks.md, "Issue 15"). The two must agree for every key:
-- test/event-store/partition-of.int.test.ts compares them.
CREATE FUNCTION annals_partition_of(key text, partitions integer) RETURNS integer
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  bytes bytea := convert_to(key, 'UTF8');
  hash bigint := 2166136261;
BEGIN
  FOR i IN 0 .. length(bytes) - 1 LOOP
    -- XOR the byte in, multiply by the FNV prime, keep the low 32 bits (Math.imul >>> 0).
    hash := ((hash # get_byte(bytes, i)) * 16777619) & 4294967295;
  END LOOP;
  RETURN (hash % partitions)::integer;
END;
$$;
