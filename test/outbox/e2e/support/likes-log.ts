// No vitest import here: the benchmark appends likes with it too.
import type { EventStore, RecordedEvent } from '../../../../src/index.js';
import { messageIdOf } from '../../../../src/outbox/message-id.js';

/** One like or unlike as the likes aggregate would record it, on stream `post-<postId>`. */
export function likeEvent(type: 'LikeCreated' | 'LikeRemoved', postId: string, userId: string) {
  return { streamId: `post-${postId}`, event: { type, data: { postId, userId } } };
}

/**
 * `total` likes on `posts` posts, appended one event per append by `writers` concurrent
 * writers. Each writer likes with users of its own and, every fourth event, takes back
 * one of its earlier likes on the post (as the aggregate allows). `pause` is awaited
 * before each append (a test pacing the writers, or stopping them for a while).
 */
export async function appendLikes(
  store: EventStore,
  options: { total: number; posts: number; writers: number; from?: number; pause?: () => Promise<void> },
): Promise<void> {
  let next = options.from ?? 0;
  const end = next + options.total;
  const writer = async (w: number) => {
    const liked = new Map<string, string[]>();
    for (let i = next++; i < end; i = next++) {
      await options.pause?.();
      const postId = `p${(i * 7919) % options.posts}`;
      const users = liked.get(postId) ?? [];
      liked.set(postId, users);
      const remove = i % 4 === 3 && users.length > 0;
      const userId = remove ? users.shift()! : `w${w}-u${i}`;
      if (!remove) users.push(userId);
      const { streamId, event } = likeEvent(remove ? 'LikeRemoved' : 'LikeCreated', postId, userId);
      await store.appendToStream(streamId, [event]);
    }
  };
  await Promise.all(Array.from({ length: options.writers }, (_, w) => writer(w)));
}

/** What the log says a receiver must end up with: every message id, each key's positions in log order, the like counts. */
export interface LikesLog {
  events: RecordedEvent[];
  /** The message ids of the destination `likes`, in log order. */
  ids: string[];
  positionsByKey: Map<string, bigint[]>;
  /** Likes per post id: the fold of the log (+1 per LikeCreated, -1 per LikeRemoved). */
  counts: Record<string, number>;
}

export async function readLikesLog(store: EventStore): Promise<LikesLog> {
  const events: RecordedEvent[] = [];
  for (let after = 0n; ; ) {
    const page = await store.readAll({ after, limit: 5_000, categories: ['post'], types: ['LikeCreated', 'LikeRemoved'] });
    if (page.length === 0) break;
    events.push(...page);
    after = page.at(-1)!.globalPosition;
  }
  const positionsByKey = new Map<string, bigint[]>();
  const counts: Record<string, number> = {};
  for (const event of events) {
    let positions = positionsByKey.get(event.streamId);
    if (!positions) positionsByKey.set(event.streamId, (positions = []));
    positions.push(event.globalPosition);
    const { postId } = event.data as { postId: string };
    counts[postId] = (counts[postId] ?? 0) + (event.type === 'LikeCreated' ? 1 : -1);
  }
  return { events, ids: events.map((event) => messageIdOf('likes', event.id)), positionsByKey, counts };
}
