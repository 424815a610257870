import { sql } from 'kysely';
import { ValidationError } from 'annals';
import { graphqlPart, readModel, type ReadContext } from 'annals/server';
import { likeCounts } from './like-counts.projection.js';

interface LikeCountsTables {
  like_counts: { post_id: string; likes: number };
}

const readLikeCounts = readModel<LikeCountsTables>(likeCounts);
/**
 * The counts of a set of posts: compiled once, run on every `post { likes }`. One array
 * parameter, whatever the number of posts: one statement text, one plan.
 */
const likesOf = readLikeCounts.prepare((db, ids: readonly string[]) =>
  db.selectFrom('like_counts').select(['post_id', 'likes']).where('post_id', '=', sql<string>`any(${ids}::text[])`),
);

/**
 * `post(id) { id likes }`: the like count of each post, from `like_counts`. Posts
 * themselves live outside the likes domain, so every id is a post, with 0 likes until
 * someone likes it. `likes` is a loader: a page of 50 posts reads its counts in one
 * statement, not 50.
 *
 * @example
 * ```graphql
 * { post(id: "p1") { id likes } }
 * ```
 */
export const likeCountsGraphQL = graphqlPart({
  name: 'like-counts',
  typeDefs: `"""A post, as the likes domain sees it: any id is a post, with no likes until someone likes it."""
type Post {
  id: ID!
  """How many users like the post now."""
  likes: Int!
}

extend type Query {
  post(id: ID!): Post
}`,
  resolvers: {
    Query: {
      post: (_root: unknown, { id }: { id: string }) => {
        if (id === '') throw new ValidationError([{ field: 'id', reason: 'must not be empty' }]);
        return { id };
      },
    },
  },
  loaders: {
    Post: {
      likes: async (queries: readonly { obj: { id: string } }[], context: ReadContext) => {
        const ids = [...new Set(queries.map((query) => query.obj.id))];
        const rows = await likesOf(context, ids);
        const likes = new Map(rows.map((row) => [row.post_id, row.likes]));
        return queries.map((query) => likes.get(query.obj.id) ?? 0);
      },
    },
  },
});
