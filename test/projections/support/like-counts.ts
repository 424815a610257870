import { sql } from 'kysely';
import { defineProjection, type ProjectionContext } from 'annals';
import { likeEvents } from '../../../domain/likes/likes.events.js';
import { likeCounts } from '../../../projections/like-counts/like-counts.projection.js';

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
    // The example projection's table: the same read model, written one event at a time.
    schema: likeCounts.definition.schema,
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
