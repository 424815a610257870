import type { Kysely } from 'kysely';
import type { EventStoreTransaction } from '../event-store/event-store.js';

/**
 * Whether `name` is a projection of this store (it has generations). Projections and the
 * other consumers share one namespace of consumer names (their partitions and dead
 * letters are rows of the same tables), so the engine refuses a consumer named like a
 * projection, and its dead-letter calls refuse a projection's dead letters (their retry
 * needs the projection's generation: src/projections/dead-letters.ts). The one read of
 * the projections' layer from this one; it types only the column it needs.
 */
export async function isProjection(tx: EventStoreTransaction, name: string): Promise<boolean> {
  const db = (tx.db as Kysely<{ projection_generations: { projection: string } }>).withSchema(tx.schema);
  const row = await db.selectFrom('projection_generations').select('projection').where('projection', '=', name).limit(1).executeTakeFirst();
  return row !== undefined;
}
