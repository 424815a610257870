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
 * Runs `query` on the projection's live tables, typed as `Tables`, on the store's pool
 * outside any transaction (`store.read`): one statement sees one snapshot already, and
 * BEGIN and COMMIT would be two more round trips on every read. A query of several
 * statements sees each one's own snapshot; when they must agree, read in
 * `store.withTransaction` with `readSchemaOf` instead. When the client sent a position,
 * first waits until the projection has processed it, so every part answers with the
 * client's own writes without asking for it (the wait is once per projection and
 * request).
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
  // The handle on the read schema, per pool handle: a service may serve several stores,
  // and `withSchema` builds a new Kysely instance each time it is called.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const handles = new WeakMap<Kysely<any>, Map<string, Kysely<Tables>>>();
  return async (context, query) => {
    await context.readYourWrites?.([projection]);
    const { store } = context;
    return store.read((db) => {
      let bySchema = handles.get(db);
      if (bySchema === undefined) handles.set(db, (bySchema = new Map()));
      let handle = bySchema.get(store.schema);
      if (handle === undefined) {
        handle = db.withSchema(readSchemaOf(store.schema, projection)) as Kysely<Tables>;
        bySchema.set(store.schema, handle);
      }
      return query(handle);
    });
  };
}
