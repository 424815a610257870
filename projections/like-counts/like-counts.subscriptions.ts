import { sql, type Kysely } from 'kysely';
import { z } from 'zod';
import { projectionSubscription } from 'annals/server';
import { likeCounts } from './like-counts.projection.js';

interface LikeCountsTables {
  like_counts: { post_id: string; likes: number };
}

/**
 * `postLikes(postId, after)`: the post's like count each time the like-counts projection
 * has applied a change to it, with the position of that change. Without `after`, the
 * count now comes first; with it (the last position received), the count if it changed
 * since, then each change. A post nobody liked has 0 likes.
 *
 * @example
 * ```graphql
 * subscription { postLikes(postId: "p1") { likes position } }
 * ```
 */
export const likeCountsSubscriptions = projectionSubscription({
  name: 'like-counts-subscriptions',
  typeDefs: `"""A post's like count, as of a position of the log."""
type PostLikesUpdate {
  postId: ID!
  """How many users like the post, as of position."""
  likes: Int!
  """The global position the count is as of, as a string: send it as after when reconnecting."""
  position: String!
}

extend type Subscription {
  """The post's like count after each change (the count now first, unless after is given)."""
  postLikes(postId: ID!, after: String): PostLikesUpdate!
}`,
  field: 'postLikes',
  projection: likeCounts,
  args: z.object({ postId: z.string().min(1, { error: 'must not be empty' }) }),
  key: (args) => args.postId,
  keyOf: (event) => event.data.postId,
  read: (db: Kysely<LikeCountsTables>, keys) =>
    // One array parameter, whatever the number of posts: one statement text, one plan.
    db.selectFrom('like_counts').select(['post_id', 'likes']).where('post_id', '=', sql<string>`any(${[...keys]}::text[])`).execute(),
  rowKey: (row) => row.post_id,
  payload: ({ key, row, position }) => ({ postId: key, likes: row?.likes ?? 0, position }),
});
