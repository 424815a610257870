import { defineProjection } from 'annals';
import { likeEvents } from '../../domain/likes/likes.events.js';

/**
 * The posts each user likes now: `user_likes(user_id, post_id, liked_at)`, one row per
 * like still standing; an unlike deletes it, a like after that adds it back.
 *
 * Order matters only between the like and unlike of one user on one post, and both are
 * in the post's stream, which keeps its order in every partition (the default key).
 *
 * @example
 * ```ts
 * const liked = await db.withSchema(readSchemaOf(store.schema, userLikes)).selectFrom('user_likes')
 *   .select('post_id').where('user_id', '=', 'ada').orderBy('liked_at', 'desc').execute();
 * ```
 */
export const userLikes = defineProjection({
  name: 'user-likes',
  version: 1,
  events: likeEvents,
  categories: ['post'],
  schema: async (db) => {
    await db.schema
      .createTable('user_likes')
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('post_id', 'text', (c) => c.notNull())
      .addColumn('liked_at', 'timestamptz', (c) => c.notNull())
      .addPrimaryKeyConstraint('user_likes_pkey', ['user_id', 'post_id'])
      .execute();
  },
  apply: async (event, { db }) => {
    const { userId, postId } = event.data;
    if (event.type === 'LikeRemoved') {
      await db.deleteFrom('user_likes').where('user_id', '=', userId).where('post_id', '=', postId).execute();
      return;
    }
    // The aggregate refuses a second like by the same user, so a conflict can only be
    // this event delivered again: the first delivery's row is the right one.
    await db
      .insertInto('user_likes')
      .values({ user_id: userId, post_id: postId, liked_at: event.recordedAt })
      .onConflict((oc) => oc.columns(['user_id', 'post_id']).doNothing())
      .execute();
  },
});
