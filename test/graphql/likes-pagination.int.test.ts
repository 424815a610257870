import { beforeAll, describe, expect, it } from 'vitest';
import { readSchemaOf } from '../../src/index.js';
import { userLikes } from '../../projections/user-likes/user-likes.projection.js';
import { graphql, likesService } from './support/likes-service.js';

const likes = await likesService('gql_pages');

const users = Array.from({ length: 45 }, (_, i) => `u${String(i).padStart(2, '0')}`);
const posts = Array.from({ length: 30 }, (_, i) => `q${String(i).padStart(2, '0')}`);
const like = (postId: string, userId: string) => ({ type: 'LikeCreated', schemaVersion: 2, data: { postId, userId, source: 'web' } });

beforeAll(async () => {
  // Fifteen likes per append share one recorded_at: ties the cursor's second key breaks.
  for (let i = 0; i < users.length; i += 15) {
    await likes.store.appendToStream('post-pg1', users.slice(i, i + 15).map((user) => like('pg1', user)));
  }
  for (const post of posts) await likes.store.appendToStream(`post-${post}`, [like(post, 'reader')]);
  await likes.catchUp();
});

interface Page {
  edges: { cursor: string; node: { id: string } }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

const likedByQuery = `query ($first: Int, $after: String) {
  post(id: "pg1") { likedBy(first: $first, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }
}`;

async function likedByPage(url: string, variables: { first?: number; after?: string | null }): Promise<Page> {
  const answer = await graphql(url, likedByQuery, variables);
  expect(answer.errors).toBeUndefined();
  return (answer.data as { post: { likedBy: Page } }).post.likedBy;
}

/** What the read model holds, in the list's order: the latest like first, then the higher user id. */
async function likedByInOrder(): Promise<string[]> {
  const rows = await likes.store.withTransaction((tx) =>
    tx.db
      .withSchema(readSchemaOf(likes.store.schema, userLikes))
      .selectFrom('user_likes')
      .select('user_id')
      .where('post_id', '=', 'pg1')
      .orderBy('liked_at', 'desc')
      .orderBy('user_id', 'desc')
      .execute(),
  );
  return rows.map((row: { user_id: string }) => row.user_id);
}

describe('connections over HTTP', () => {
  it('page through every item once, in order, with endCursor as after', async () => {
    const url = await likes.start();
    const first = await likedByPage(url, { first: 20 });
    const second = await likedByPage(url, { first: 20, after: first.pageInfo.endCursor });
    const third = await likedByPage(url, { first: 20, after: second.pageInfo.endCursor });
    expect([first, second, third].map((page) => [page.edges.length, page.pageInfo.hasNextPage])).toEqual([
      [20, true],
      [20, true],
      [5, false],
    ]);
    expect(third.pageInfo.endCursor).toBe(third.edges.at(-1)!.cursor);
    const ids = [first, second, third].flatMap((page) => page.edges.map((edge) => edge.node.id));
    expect(ids).toEqual(await likedByInOrder());
    expect(new Set(ids)).toEqual(new Set(users));
  });

  it('give 20 items without first, and an empty page after the last one', async () => {
    const url = await likes.start();
    const page = await likedByPage(url, {});
    expect(page.edges).toHaveLength(20);
    const all = await likedByPage(url, { first: 100 });
    expect(all.edges).toHaveLength(45);
    const after = await likedByPage(url, { after: all.pageInfo.endCursor });
    expect(after).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
  });

  it('page the posts a user likes and the notifications their likes sent', async () => {
    const url = await likes.start();
    const query = `query ($after: String, $notificationsAfter: String) { user(id: "reader") {
      likedPosts(first: 25, after: $after) { edges { node { id likes } } pageInfo { hasNextPage endCursor } }
      notifications(first: 25, after: $notificationsAfter) { edges { node { id postId } } pageInfo { hasNextPage endCursor } }
    } }`;
    type UserPages = { user: { likedPosts: Page & { edges: { node: { id: string; likes: number } }[] }; notifications: Page & { edges: { node: { postId: string } }[] } } };
    const one = (await graphql(url, query)).data as UserPages;
    const two = (await graphql(url, query, { after: one.user.likedPosts.pageInfo.endCursor, notificationsAfter: one.user.notifications.pageInfo.endCursor })).data as UserPages;
    expect([one.user.likedPosts.pageInfo.hasNextPage, two.user.likedPosts.pageInfo.hasNextPage]).toEqual([true, false]);
    const liked = [...one.user.likedPosts.edges, ...two.user.likedPosts.edges].map((edge) => edge.node);
    // Appended one after the other: the latest like first.
    expect(liked).toEqual([...posts].reverse().map((id) => ({ id, likes: 1 })));
    // Notifications of one millisecond are in event id order, not append order: compare as sets.
    const notified = [...one.user.notifications.edges, ...two.user.notifications.edges].map((edge) => edge.node.postId);
    expect(notified).toHaveLength(posts.length);
    expect(new Set(notified)).toEqual(new Set(posts));
    expect(two.user.notifications.pageInfo.hasNextPage).toBe(false);
  });

  it('page a list under each item of a list, each from its own start', async () => {
    const url = await likes.start();
    const answer = await graphql(url, `{ user(id: "reader") { likedPosts(first: 2) { edges { node { id likedBy(first: 1) { edges { node { id } } pageInfo { hasNextPage } } } } } } }`);
    expect(answer.errors).toBeUndefined();
    expect(answer.data).toEqual({
      user: {
        likedPosts: {
          edges: [posts[29], posts[28]].map((id) => ({ node: { id, likedBy: { edges: [{ node: { id: 'reader' } }], pageInfo: { hasNextPage: false } } } })),
        },
      },
    });
  });
});

describe('connection bounds and cursors', () => {
  it.each([101, 0, -1])('first: %i is BAD_USER_INPUT on first', async (first) => {
    const url = await likes.start();
    const answer = await graphql(url, likedByQuery, { first });
    expect(answer.status).toBe(200);
    expect(answer.errors).toEqual([
      expect.objectContaining({
        path: ['post', 'likedBy'],
        extensions: { code: 'BAD_USER_INPUT', issues: [{ field: 'first', reason: `must be from 1 to 100, not ${first}: read more with after` }] },
      }),
    ]);
  });

  const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  it.each([
    ['not base64url', 'not a cursor!'],
    ['not JSON', Buffer.from('{{').toString('base64url')],
    ['of another list', cursorOf(['user.likedPosts', ['2024-03-30T21:00:00.000Z', 'pg1']])],
    ['with a key that is no timestamp', cursorOf(['post.likedBy', ['yesterday', 'u01']])],
    ['with a key of the wrong shape', cursorOf(['post.likedBy', { at: 1 }])],
    ['too long', 'A'.repeat(5000)],
  ])('a cursor %s is BAD_USER_INPUT on after', async (_case, after) => {
    const url = await likes.start();
    const answer = await graphql(url, likedByQuery, { after });
    expect(answer.errors).toEqual([
      expect.objectContaining({
        path: ['post', 'likedBy'],
        extensions: {
          code: 'BAD_USER_INPUT',
          issues: [{ field: 'after', reason: 'is not a cursor of post.likedBy: pass the endCursor of the previous page' }],
        },
      }),
    ]);
  });

  it('a bad cursor fails its own field only', async () => {
    const url = await likes.start();
    const answer = await graphql(url, `{
      good: user(id: "reader") { likedPosts(first: 1) { edges { node { id } } } }
      bad: user(id: "reader") { likedPosts(after: "nope") { edges { node { id } } } }
    }`);
    expect(answer.data).toEqual({ good: { likedPosts: { edges: [{ node: { id: posts[29] } }] } }, bad: null });
    expect(answer.errors).toEqual([expect.objectContaining({ path: ['bad', 'likedPosts'], extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }) })]);
  });
});
