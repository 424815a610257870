import { sql } from 'kysely';
import { z } from 'zod';
import { ValidationError } from 'annals';
import { connectionLoader, connectionTypeDefs, defineConnection, graphqlPart, readModel, type PageRequest, type ReadContext } from 'annals/server';
import { userLikes } from './user-likes.projection.js';

interface UserLike {
  user_id: string;
  post_id: string;
  liked_at: Date;
}

interface UserLikesTables {
  user_likes: UserLike;
}

const readUserLikes = readModel<UserLikesTables>(userLikes);

/** Both lists are ordered by when the like was given, latest first; the other id breaks ties. */
const likedPosts = defineConnection({
  name: 'user.likedPosts',
  key: z.tuple([z.iso.datetime(), z.string()]),
  keyOf: (row: UserLike): [string, string] => [row.liked_at.toISOString(), row.post_id],
});
const likedBy = defineConnection({
  name: 'post.likedBy',
  key: z.tuple([z.iso.datetime(), z.string()]),
  keyOf: (row: UserLike): [string, string] => [row.liked_at.toISOString(), row.user_id],
});

/**
 * A page of likes for each of several users (`by: 'user_id'`) or posts (`by: 'post_id'`),
 * in one statement: a lateral join reads up to `page.limit` rows per id, each from where
 * its cursor points. liked_at holds a JS Date (milliseconds), so the cursor's ISO
 * timestamp compares exactly.
 */
function readPages(by: 'user_id' | 'post_id', ids: readonly string[], page: PageRequest<[string, string]>, context: ReadContext) {
  const other = by === 'user_id' ? 'post_id' : 'user_id';
  return readUserLikes(context, (db) =>
    db
      // The ids as a table to join from: kysely has no unnest of a parameter array.
      .selectFrom(db.selectNoFrom(sql<string>`unnest(${ids}::text[])`.as('id')).as('ids'))
      .innerJoinLateral(
        (eb) =>
          eb
            .selectFrom('user_likes')
            .select(['user_id', 'post_id', 'liked_at'])
            .whereRef(by, '=', 'ids.id')
            .$if(page.after !== undefined, (query) =>
              query.where(({ eb: where, refTuple, tuple }) => where(refTuple('liked_at', other), '<', tuple(new Date(page.after![0]), page.after![1]))),
            )
            .orderBy('liked_at', 'desc')
            .orderBy(other, 'desc')
            .limit(page.limit)
            .as('page'),
        (join) => join.onTrue(),
      )
      .select(['page.user_id', 'page.post_id', 'page.liked_at'])
      .orderBy('ids.id')
      .orderBy('page.liked_at', 'desc')
      .orderBy(other === 'post_id' ? 'page.post_id' : 'page.user_id', 'desc')
      .execute(),
  );
}

/**
 * `user(id) { likedPosts(first, after) }` and `post(id) { likedBy(first, after) }` from
 * `user_likes`: Relay connections (at most 100 per page), latest like first. Both are
 * loaders: the lists under a page of 50 posts are one statement.
 *
 * @example
 * ```graphql
 * { user(id: "ada") { likedPosts(first: 10) { edges { node { id likes } } pageInfo { hasNextPage endCursor } } } }
 * ```
 */
export const userLikesGraphQL = graphqlPart({
  name: 'user-likes',
  typeDefs: `"""A user, as the likes domain sees them: any id is a user."""
type User {
  id: ID!
  """The posts the user likes now, the latest liked first."""
  likedPosts(first: Int, after: String): PostConnection!
}

extend type Post {
  """The users who like the post now, the latest first."""
  likedBy(first: Int, after: String): UserConnection!
}

extend type Query {
  user(id: ID!): User
}

${connectionTypeDefs('Post')}

${connectionTypeDefs('User')}`,
  resolvers: {
    Query: {
      user: (_root: unknown, { id }: { id: string }) => {
        if (id === '') throw new ValidationError([{ field: 'id', reason: 'must not be empty' }]);
        return { id };
      },
    },
  },
  loaders: {
    User: {
      likedPosts: connectionLoader({
        connection: likedPosts,
        parentId: (user: { id: string }) => user.id,
        rowParent: (row) => row.user_id,
        read: (userIds, page, context: ReadContext) => readPages('user_id', userIds, page, context),
        node: (row) => ({ id: row.post_id }),
      }),
    },
    Post: {
      likedBy: connectionLoader({
        connection: likedBy,
        parentId: (post: { id: string }) => post.id,
        rowParent: (row) => row.post_id,
        read: (postIds, page, context: ReadContext) => readPages('post_id', postIds, page, context),
        node: (row) => ({ id: row.user_id }),
      }),
    },
  },
});
