import type { EventStoreTransaction } from '../event-store/event-store.js';
import { quoteIdent } from '../database/quote-ident.js';

/**
 * What holds retention back: every reader of the log that still needs an event. The
 * retention job removes only events at or below the lowest of their positions, so a
 * projection, consumer or relay that is behind (or stopped) keeps what it has not yet
 * processed; so do the events a dead letter, an owed inline event or a parked outbox
 * message names (a retry reads them again), and checkpoints saved with saveCheckpoint.
 * A reader that has never run in the store holds nothing back: it finds the removed
 * history gone (docs/retention.md).
 */
export interface RetentionHolder {
  kind: 'projection' | 'consumer' | 'dead letter' | 'owed inline event' | 'parked outbox message' | 'checkpoint';
  name: string;
  /** Events above this position are still needed by it. */
  position: bigint;
}

/**
 * The readers that still need events, lowest position first. Projection generations count
 * while building, and while live unless applied inline (its appenders write it, and what
 * they owe is in projection_inline_pending); retired ones do not.
 */
export async function retentionHolders(tx: EventStoreTransaction): Promise<RetentionHolder[]> {
  const s = quoteIdent(tx.schema);
  const rows = await tx.query<{ kind: RetentionHolder['kind']; name: string; position: string | bigint }>(
    `SELECT kind, name, position FROM (
       SELECT CASE WHEN g.projection IS NULL THEN 'consumer' ELSE 'projection' END AS kind,
              CASE WHEN g.projection IS NULL THEN cp.consumer ELSE cp.consumer || ' (generation ' || cp.generation || ')' END AS name,
              min(cp.position) AS position
         FROM ${s}.consumer_partitions cp
         LEFT JOIN ${s}.projection_generations g ON g.projection = cp.consumer AND g.generation = cp.generation
        WHERE (g.projection IS NULL AND NOT EXISTS (SELECT 1 FROM ${s}.projection_generations p WHERE p.projection = cp.consumer))
           OR g.status = 'building'
           OR (g.status = 'live' AND NOT g.applied_inline)
        GROUP BY 1, 2
       UNION ALL
       SELECT 'dead letter', consumer, min(global_position) - 1 FROM ${s}.consumer_dead_letters WHERE status = 'pending' GROUP BY consumer
       UNION ALL
       SELECT 'owed inline event', projection, min(global_position) - 1 FROM ${s}.projection_inline_pending GROUP BY projection
       UNION ALL
       SELECT 'parked outbox message', outbox, min(global_position) - 1 FROM ${s}.outbox_parked_messages WHERE status IN ('parked', 'held') GROUP BY outbox
       UNION ALL
       SELECT 'checkpoint', name, position FROM ${s}.checkpoints
     ) holders
     ORDER BY position, kind, name`,
  );
  return rows.map((row) => ({ kind: row.kind, name: row.name, position: BigInt(row.position) }));
}
