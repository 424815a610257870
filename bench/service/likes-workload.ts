/**
 * The posts the service figures read and write, what each server is sent, and how an
 * answer is checked: the same posts, and the same like counts expected, whichever server
 * answers.
 */
import type { EventStore } from '../../src/index.js';

/** The read figure's post `index`: `read-<index>`. */
export const readPostId = (index: number): string => `read-${index}`;

/**
 * Likes seeded on read post `index`: 0 to 19, so a twentieth of the posts have no row in
 * `like_counts` and are answered 0 by both servers.
 */
export const seededLikes = (index: number): number => index % 20;

/**
 * Appends the read posts' likes (one call per post, all its likes, 4 in flight), as the
 * likes aggregate would have: `LikeCreated` at its current schema version.
 */
export async function seedReadPosts(store: EventStore, posts: number): Promise<number> {
  let next = 0;
  let events = 0;
  const writer = async () => {
    for (let index = next++; index < posts; index = next++) {
      const postId = readPostId(index);
      const likes = Array.from({ length: seededLikes(index) }, (_, like) => ({
        type: 'LikeCreated',
        schemaVersion: 2,
        data: { postId, userId: `seed-${like}`, source: 'web' },
      }));
      if (likes.length === 0) continue;
      await store.appendToStream(`post-${postId}`, likes, { expectedVersion: 'no_stream' });
      events += likes.length;
    }
  };
  await Promise.all(Array.from({ length: 4 }, writer));
  return events;
}

/** What a GraphQL client sends: one operation text, its variables apart (mercurius caches the parsed text). */
export const postQuery = 'query Post($id: ID!) { post(id: $id) { id likes } }';
export const likeMutation = 'mutation Like($postId: ID!, $userId: ID!) { likePost(postId: $postId, userId: $userId) { streamId version position } }';

export const graphqlBody = (query: string, variables: Record<string, string>): string => JSON.stringify({ query, variables });

/** The plain routes (plain-server.ts): the same lookup and the same command, without GraphQL. */
export const plainPostPath = (postId: string): string => `/posts/${encodeURIComponent(postId)}`;
export const plainLikePath = (postId: string): string => `/posts/${encodeURIComponent(postId)}/likes`;

/** The like count an answer of either server carries. */
export function likesIn(body: string): number | undefined {
  const parsed = JSON.parse(body) as { likes?: unknown; data?: { post?: { likes?: unknown } } };
  const likes = parsed.data?.post?.likes ?? parsed.likes;
  return typeof likes === 'number' ? likes : undefined;
}

/** The position an answer to a like carries, from either server. */
export function positionIn(body: string): string | undefined {
  const parsed = JSON.parse(body) as { position?: unknown; data?: { likePost?: { position?: unknown } } };
  const position = parsed.data?.likePost?.position ?? parsed.position;
  return typeof position === 'string' ? position : undefined;
}

/**
 * A GraphQL answer that carries errors: mercurius answers 200 with `errors` when a
 * resolver fails, so a status alone would count failures as served requests.
 */
export const hasGraphQLErrors = (body: string): boolean => body.includes('"errors"');
