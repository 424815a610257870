import { sql } from 'kysely';
import { defineProjection } from 'annals';
import { likeEvents } from '../../../domain/likes/likes.events.js';

/** A like count per post, written one event at a time: the simplest projection. */
export function likeCountsProjection(options: { version?: number; name?: string; partitions?: number; failOn?: (postId: string) => boolean } = {}) {
  return defineProjection({
    name: options.name ?? 'like-counts',
    version: options.version ?? 1,
    events: likeEvents,
    ...(options.partitions ? { partitions: options.partitions } : {}),
    schema: async (db) => {
      await db.schema
        .createTable('like_counts')
        .addColumn('post_id', 'text', (c) => c.primaryKey())
        .addColumn('likes', 'integer', (c) => c.notNull())
        .execute();
    },
    apply: async (event, { db }) => {
      if (options.failOn?.(event.data.postId)) throw new Error(`refusing post ${event.data.postId}`);
      const delta = event.type === 'LikeCreated' ? 1 : -1;
      await db
        .insertInto('like_counts')
        .values({ post_id: event.data.postId, likes: delta })
        .onConflict((oc) => oc.column('post_id').doUpdateSet({ likes: sql`like_counts.likes + ${delta}` }))
        .execute();
    },
  });
}
