import { sql, type RawBuilder } from 'kysely';
import { writtenMessage } from '../log-partition.js';
import type { LogPartition } from '../session-options.js';

/**
 * The condition of readAll's and countEvents' `partition` on the events table: the key's
 * partition by annals_partition_of (migration 0014), the same FNV-1a as partitionOfKey.
 * The index and count are parameters, so every partition runs one prepared statement.
 * Undefined when there is nothing to filter (one partition holds everything).
 */
export function partitionCondition(schema: string, partition: LogPartition | undefined): RawBuilder<boolean> | undefined {
  if (partition === undefined || partition.count === 1) return undefined;
  const key =
    partition.key === 'ordering'
      ? // routing.ts's orderingKeyOf, in SQL: the key a written message gave, else the stream id.
        sql`CASE WHEN category = ${sql.lit(writtenMessage.category)} AND type = ${sql.lit(writtenMessage.type)}
          AND jsonb_typeof(data -> 'key') = 'string' AND data ->> 'key' <> '' THEN data ->> 'key' ELSE stream_id END`
      : sql.ref('stream_id');
  return sql<boolean>`${sql.id(schema, 'annals_partition_of')}(${key}, ${partition.count}::integer) = ${partition.index}::integer`;
}
