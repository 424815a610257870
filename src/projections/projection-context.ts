import { quoteIdent } from '../database/quote-ident.js';
import type { EventStoreTransaction } from '../event-store/event-store.js';
import type { ProjectionContext } from './define-projection.js';

/**
 * The context a handler runs with: the transaction's kysely aimed at the generation's
 * schema (kysely's withSchema qualifies every table it builds), and `search_path` set to
 * that schema for the rest of the transaction so raw SQL and the projection's own `sql`
 * fragments resolve there too. The store's own statements name their schema explicitly.
 */
export async function projectionContext(
  tx: EventStoreTransaction,
  generationSchema: string,
  where: { replaying: boolean; generation: number; partition: number },
): Promise<ProjectionContext> {
  await tx.query(`SET LOCAL search_path TO ${quoteIdent(generationSchema)}`);
  return {
    db: tx.db.withSchema(generationSchema),
    query: (text, parameters) => tx.query(text, parameters),
    replaying: where.replaying,
    generation: where.generation,
    partition: where.partition,
  };
}
