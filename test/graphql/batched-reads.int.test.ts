import { beforeAll, describe, expect, it } from 'vitest';
import { composeSchema } from '../../src/graphql/compose-schema.js';
import { graphqlPart } from '../../src/graphql/graphql-part.js';
import { readModel, type ReadContext } from '../../src/graphql/read-model.js';
import { likeCountsGraphQL } from '../../projections/like-counts/like-counts.graphql.js';
import { likeCounts } from '../../projections/like-counts/like-counts.projection.js';
import { userLikesGraphQL } from '../../projections/user-likes/user-likes.graphql.js';
import { startService } from '../server/support/http.js';
import { graphql, likesService } from './support/likes-service.js';

const likes = await likesService('gql_batched');

/** 50 posts the reader likes; post n is liked by n + 1 users in all. */
const posts = Array.from({ length: 50 }, (_, n) => `b${String(n).padStart(2, '0')}`);
const like = (postId: string, userId: string) => ({ type: 'LikeCreated', schemaVersion: 2, data: { postId, userId, source: 'web' } });

beforeAll(async () => {
  for (const [n, post] of posts.entries()) {
    const others = Array.from({ length: n }, (_, i) => like(post, `fan${i}`));
    await likes.store.appendToStream(`post-${post}`, [...others, like(post, 'reader')]);
  }
  await likes.catchUp();
});

/** The statements that read `table` (of a read schema: `"<schema>"."like_counts"`). */
const reads = (statements: readonly string[], table: string) => statements.filter((text) => text.includes(`."${table}"`));
/** How many statements of each kind (SELECT, BEGIN…): reads of one request may interleave. readModel reads outside a transaction, so a read is one SELECT. */
const kinds = (statements: readonly string[]) => {
  const counts: Record<string, number> = {};
  for (const text of statements) {
    const kind = text.trimStart().split(/\s/)[0]!.toLowerCase();
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
};

describe('list resolvers batch their reads', () => {
  it('a page of 50 posts with their like counts costs one read of the counts, not 50', async () => {
    const url = await likes.start();
    let answer: Awaited<ReturnType<typeof graphql>> | undefined;
    const statements = await likes.statements.during(async () => {
      answer = await graphql(url, `{ user(id: "reader") { likedPosts(first: 50) { edges { node { id likes } } } } }`);
    });
    expect(answer!.errors).toBeUndefined();
    const nodes = (answer!.data as { user: { likedPosts: { edges: { node: { id: string; likes: number } }[] } } }).user.likedPosts.edges.map((edge) => edge.node);
    expect(nodes).toHaveLength(50);
    expect(nodes.toSorted((a, b) => a.id.localeCompare(b.id))).toEqual(posts.map((id, n) => ({ id, likes: n + 1 })));

    expect(reads(statements, 'user_likes'), statements.join('\n')).toHaveLength(1);
    expect(reads(statements, 'like_counts'), statements.join('\n')).toHaveLength(1);
    // Each read is one short transaction that never appends: BEGIN, the SELECT, COMMIT.
    expect(kinds(statements), statements.join('\n')).toEqual({ select: 2 });
  });

  it('a list under each of the 50 posts is one read too, whatever the page of each', async () => {
    const url = await likes.start();
    let answer: Awaited<ReturnType<typeof graphql>> | undefined;
    const statements = await likes.statements.during(async () => {
      answer = await graphql(
        url,
        `{ user(id: "reader") { likedPosts(first: 50) { edges { node { id likes likedBy(first: 3) { edges { node { id } } pageInfo { hasNextPage } } } } } } }`,
      );
    });
    expect(answer!.errors).toBeUndefined();
    type Node = { id: string; likedBy: { edges: unknown[]; pageInfo: { hasNextPage: boolean } } };
    const nodes = (answer!.data as { user: { likedPosts: { edges: { node: Node }[] } } }).user.likedPosts.edges.map((edge) => edge.node);
    for (const node of nodes) {
      const total = posts.indexOf(node.id) + 1;
      expect([node.likedBy.edges.length, node.likedBy.pageInfo.hasNextPage], node.id).toEqual([Math.min(3, total), total > 3]);
    }
    expect(reads(statements, 'user_likes'), statements.join('\n')).toHaveLength(2);
    expect(reads(statements, 'like_counts'), statements.join('\n')).toHaveLength(1);
    expect(kinds(statements), statements.join('\n')).toEqual({ select: 3 });
  });
});

describe('the count', () => {
  it('is real: the same page with a resolver per post instead of the loader costs a read per post', async () => {
    const readLikeCounts = readModel<{ like_counts: { post_id: string; likes: number } }>(likeCounts);
    const unbatched = graphqlPart({
      name: 'like-counts',
      typeDefs: likeCountsGraphQL.typeDefs,
      resolvers: {
        ...likeCountsGraphQL.resolvers,
        Post: {
          likes: async (post: { id: string }, _args: unknown, context: ReadContext) =>
            (await readLikeCounts(context, (db) => db.selectFrom('like_counts').select('likes').where('post_id', '=', post.id).executeTakeFirst()))?.likes ?? 0,
        },
      },
    });
    const { url } = await startService({ store: likes.store, ...composeSchema([unbatched, userLikesGraphQL]) });
    let answer: Awaited<ReturnType<typeof graphql>> | undefined;
    const statements = await likes.statements.during(async () => {
      answer = await graphql(url, `{ user(id: "reader") { likedPosts(first: 50) { edges { node { id likes } } } } }`);
    });
    expect(answer!.errors).toBeUndefined();
    expect(reads(statements, 'like_counts')).toHaveLength(50);
    expect(kinds(statements)).toEqual({ select: 51 });
  });
});
