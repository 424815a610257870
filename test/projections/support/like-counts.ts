import { sql } from 'kysely';
import { defineProjection, type ProjectionContext } from 'annals';
import { likeEvents } from '../../../domain/likes/likes.events.js';

/** A like count per post, written one event at a time: the simplest projection. */
export function likeCountsProjection(
  options: {
    version?: number;
    name?: string;
    partitions?: number;
    failOn?: (postId: string) => boolean;
    categories?: string[];
    /** Runs before and after the row is written, in the same transaction: lets a test hold a batch there. */
    hold?: (stage: 'before' | 'after', event: { data: { postId: string; userId: string } }, context: ProjectionContext) => Promise<void>;
  } = {},
) {
  return defineProjection({
    name: options.name ?? 'like-counts',
    version: options.version ?? 1,
    events: likeEvents,
    ...(options.partitions ? { partitions: options.partitions } : {}),
    ...(options.categories ? { categories: options.categories } : {}),
    schema: async (db) => {
      await db.schema
        .createTable('like_counts')
        .addColumn('post_id', 'text', (c) => c.primaryKey())
        .addColumn('likes', 'integer', (c) => c.notNull())
        .execute();
    },
    apply: async (event, context) => {
      const { db } = context;
      if (options.failOn?.(event.data.postId)) throw new Error(`refusing post ${event.data.postId}`);
      await options.hold?.('before', event, context);
      const delta = event.type === 'LikeCreated' ? 1 : -1;
      await db
        .insertInto('like_counts')
        .values({ post_id: event.data.postId, likes: delta })
        .onConflict((oc) => oc.column('post_id').doUpdateSet({ likes: sql`like_counts.likes + ${delta}` }))
        .execute();
      await options.hold?.('after', event, context);
    },
  });
}
