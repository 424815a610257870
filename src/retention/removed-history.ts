import { quoteIdent } from '../database/quote-ident.js';
import { RemovedHistoryError } from '../errors.js';
import type { EventStoreTransaction } from '../event-store/event-store.js';

/**
 * Retention batches and rebuilds of a store, ordered by one advisory lock: each batch
 * holds it shared while it reads who needs what and removes, a rebuild takes it
 * exclusively while it checks what was removed and creates its generation. So a batch
 * either committed before the check (the rebuild sees what it removed) or starts after
 * the new generation's checkpoints exist (and is held back by them).
 */
async function lockRetention(tx: EventStoreTransaction, mode: 'shared' | 'exclusive'): Promise<void> {
  const lock = mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock';
  await tx.query(`SELECT ${lock}(hashtext('annals.retention'), hashtext($1))`, [tx.schema]);
}

/** For a retention batch: waits for a rebuild's check in progress. */
export const lockForRemoval = (tx: EventStoreTransaction) => lockRetention(tx, 'shared');

/**
 * Refuses a rebuild from `from` of a projection reading `categories` (undefined: every
 * category) when retention removed events of one of them above `from`.
 *
 * @throws RemovedHistoryError naming the category and the position to rebuild from.
 */
export async function refuseRemovedHistory(
  tx: EventStoreTransaction,
  projection: { name: string; categories: readonly string[] | undefined },
  from: bigint,
): Promise<void> {
  await lockRetention(tx, 'exclusive');
  const rows = await tx.query<{ category: string; removed_through: string | bigint }>(
    `SELECT category, removed_through FROM ${quoteIdent(tx.schema)}.retention_removed
      WHERE removed_through > $1::bigint AND ($2::text[] IS NULL OR category = ANY($2::text[]))
      ORDER BY removed_through DESC, category LIMIT 1`,
    [from.toString(), projection.categories ? [...projection.categories] : null],
  );
  const [row] = rows;
  if (row) throw new RemovedHistoryError(projection.name, from, { category: row.category, removedThrough: BigInt(row.removed_through) });
}
