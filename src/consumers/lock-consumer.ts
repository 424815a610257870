import type { EventStoreTransaction } from '../event-store/event-store.js';

/**
 * Serializes the setup and the changes of one consumer (a projection's generations, a
 * consumer's partitions) across processes, until the transaction ends. Shared holders
 * (a projection's inline appenders, its rebuild's batches) exclude only the exclusive
 * ones. Advisory locks take no transaction id, so holding one does not hold back readers
 * of the global log. lockProjections (projections/generations.ts) takes the same key for
 * several projections in one statement.
 */
export async function lockConsumer(tx: EventStoreTransaction, name: string, mode: 'shared' | 'exclusive' = 'exclusive'): Promise<void> {
  const fn = mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock';
  await tx.query(`SELECT ${fn}(hashtext('annals.projection'), hashtext($1))`, [`${tx.schema}.${name}`]);
}
