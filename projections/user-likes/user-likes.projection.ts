import { defineProjection } from 'annals';
import { likeEvents } from '../../domain/likes/likes.events.js';

/**
 * The posts each user likes now: `user_likes(user_id, post_id, liked_at)`, one row per
 * like still standing; an unlike deletes it, a like after that adds it back.
 *
 * Order matters only between the like and unlike of one user on one post, and both are
 * in the post's stream, which keeps its order in every partition (the default key).
 *
 * Indexes are those of the reads (projections/user-likes/user-likes.graphql.ts): a page
 * of a post's likers or of a user's liked posts, the latest first, after a cursor
 * `(liked_at, other id)`. Each is one index range scan in that order, read backwards, so
 * a page costs `first` rows however many likes the post or user has, not a sort of all
 * of them. Version 2 added them (a generation's tables are made once: a new index needs
 * a new generation, so the bump makes deployed read models get it by a rebuild).
 *
 * @example
 * ```ts
 * const liked = await db.withSchema(readSchemaOf(store.schema, userLikes)).selectFrom('user_likes')
 *   .select('post_id').where('user_id', '=', 'ada').orderBy('liked_at', 'desc').execute();
 * ```
 */
export const userLikes = defineProjection({
  name: 'user-likes',
  version: 2,
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
    // post(id) { likedBy }: WHERE post_id = $1 AND (liked_at, user_id) < $cursor ORDER BY liked_at DESC, user_id DESC.
    await db.schema.createIndex('user_likes_post_idx').on('user_likes').columns(['post_id', 'liked_at', 'user_id']).execute();
    // user(id) { likedPosts }: the same by user; the primary key finds a user's rows but not in this order.
    await db.schema.createIndex('user_likes_user_idx').on('user_likes').columns(['user_id', 'liked_at', 'post_id']).execute();
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
