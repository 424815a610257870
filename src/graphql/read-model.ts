/**
 * Reading a projection's read model from a resolver. Readers find the live tables through
 * the projection's read schema (docs/projections.md, "Where read models live"), so a
 * query keeps working across a rebuild's switch; every read of a GraphQL part goes
 * through here, which is also the one place that knows which projection a request reads.
 */
import type { Kysely } from 'kysely';
import type { EventStore } from '../event-store/event-store.js';
import { readSchemaOf, type AnyProjection } from '../projections/define-projection.js';

/** What a read needs from the resolver's context: the service's context has it. */
export interface ReadContext {
  readonly store: EventStore;
  /**
   * Waits until the projections have processed the position the client sent
   * (`Annals-Min-Position`; at once without one): the service's context has it
   * (docs/server.md, "Read your writes"). A context without it reads at once.
   */
  readonly readYourWrites?: (projections: readonly AnyProjection[]) => Promise<void>;
}

/**
 * Runs `query` on the projection's live tables, typed as `Tables`: one short transaction
 * that never appends, so it never holds back the log's readers (docs/global-log.md).
 * When the client sent a position, first waits until the projection has processed it, so
 * every part answers with the client's own writes without asking for it (the wait is
 * once per projection and request).
 */
export type ReadModel<Tables> = <T>(context: ReadContext, query: (db: Kysely<Tables>) => Promise<T>) => Promise<T>;

/**
 * A reader of `projection`'s read model, with its table types.
 *
 * @example
 * ```ts
 * interface LikeCountsTables { like_counts: { post_id: string; likes: number } }
 * const readLikeCounts = readModel<LikeCountsTables>(likeCounts);
 * // in a resolver or loader:
 * const rows = await readLikeCounts(context, (db) => db.selectFrom('like_counts').selectAll().where('post_id', 'in', ids).execute());
 * ```
 */
export function readModel<Tables>(projection: AnyProjection): ReadModel<Tables> {
  // The read schema depends only on the store's schema: one service may serve several stores.
  const schemas = new Map<string, string>();
  return async (context, query) => {
    await context.readYourWrites?.([projection]);
    const { store } = context;
    let schema = schemas.get(store.schema);
    if (schema === undefined) {
      schema = readSchemaOf(store.schema, projection);
      schemas.set(store.schema, schema);
    }
    const readSchema = schema;
    return store.withTransaction((tx) => query(tx.db.withSchema(readSchema) as Kysely<Tables>), { appends: false });
  };
}
