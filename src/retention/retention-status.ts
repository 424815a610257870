import { quoteIdent } from '../database/quote-ident.js';
import type { EventStore } from '../event-store/event-store.js';
import type { Retention } from './define-retention.js';
import type { RetentionHolder } from './holdback.js';
import { runRetention, type RetentionResult } from './run-retention.js';

/** What retention removed from one category so far (retention_removed). */
export interface RetentionRemoved {
  category: string;
  removedEvents: number;
  /** The highest global position removed: the category's history after it is complete. */
  removedThrough: bigint;
  lastRemovedAt: Date;
}

/** Where retention stands: what it removed, and what the policy expires now (its backlog). */
export interface RetentionStatus {
  removed: RetentionRemoved[];
  /** Per category (and stream with a rule of its own): removable now, and waiting for readers. */
  backlog: RetentionResult[];
  safePosition: bigint;
  heldBackBy: RetentionHolder[];
}

/**
 * Retention's figures for `annals status` and the service's metrics: a read of what was
 * removed and a dry run of the policy (which counts, per category, the streams' expired
 * events: a pass over the category's streams).
 */
export async function retentionStatus(store: EventStore, retention: Retention): Promise<RetentionStatus> {
  const removed = await readRemoved(store);
  const dry = await runRetention(store, retention, { dryRun: true });
  return { removed, backlog: dry.results, safePosition: dry.safePosition, heldBackBy: dry.heldBackBy };
}

/** Every category retention removed events of, by category. */
export async function readRemoved(store: EventStore): Promise<RetentionRemoved[]> {
  const rows = await store.withTransaction(
    (tx) =>
      tx.query<{ category: string; removed_events: string | number | bigint; removed_through: string | bigint; last_removed_at: Date | string }>(
        `SELECT category, removed_events, removed_through, last_removed_at FROM ${quoteIdent(tx.schema)}.retention_removed ORDER BY category`,
      ),
    { appends: false },
  );
  return rows.map((row) => ({
    category: row.category,
    removedEvents: Number(row.removed_events),
    removedThrough: BigInt(row.removed_through),
    lastRemovedAt: new Date(row.last_removed_at),
  }));
}
