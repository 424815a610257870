import { handleCommand, type EventStore, type ProjectedEvent } from 'annals';
import { postLikes } from '../../../../domain/likes/likes.aggregate.js';
import type { likeEvents } from '../../../../domain/likes/likes.events.js';
import { everyEvent, seededRandom } from './examples.js';

type Random = ReturnType<typeof seededRandom>;
const sources = ['web', 'web', 'web', 'mobile', 'mobile', 'api', undefined] as const;

/**
 * Users liking and unliking posts through the real aggregate, several at once (so the
 * log interleaves posts, and commands on one post race and retry as they do in
 * production). Remembers who likes what between rounds, to send mostly commands the
 * aggregate accepts; one in twenty is a double like it refuses, which appends nothing.
 */
export function likesSimulation(store: EventStore, random: Random, options: { posts: number; users: number; workers?: number }) {
  const workers = options.workers ?? 6;
  const liked = new Set<string>();
  const postId = (index: number) => `p${index}`;
  const userId = (index: number) => `u${index}`;
  return {
    /**
     * Likes as the first release stored them (LikeCreated version 1: `post`, no source),
     * appended directly, as a migration from the old system would have.
     */
    async importFirstRelease(count: number): Promise<void> {
      for (let i = 0; i < count; i++) {
        const post = postId(random.skewedBelow(options.posts));
        const user = `legacy-u${i}`;
        liked.add(`${post}|${user}`);
        await store.appendToStream(postLikes.streamId(post), [{ type: 'LikeCreated', data: { post, userId: user }, schemaVersion: 1 }]);
      }
    },
    /** `commands` commands; each worker acts for its own users, so the model above stays true. */
    async run(commands: number): Promise<void> {
      const loop = async (worker: number) => {
        for (let i = worker; i < commands; i += workers) {
          const user = userId(random.below(Math.ceil(options.users / workers)) * workers + worker);
          const post = postId(random.skewedBelow(options.posts));
          const key = `${post}|${user}`;
          const refused = random.next() < 0.05;
          if (liked.has(key) && !refused) {
            await handleCommand(store, postLikes, post, { type: 'UnlikePost', data: { postId: post, userId: user } });
            liked.delete(key);
            continue;
          }
          const source = random.pick(sources);
          const like = handleCommand(store, postLikes, post, { type: 'LikePost', data: { postId: post, userId: user, ...(source ? { source } : {}) } });
          if (liked.has(key)) {
            await like.then(
              () => Promise.reject(new Error(`the aggregate accepted a second like of ${key}`)),
              (error: { code?: string }) => (error.code === 'LIKE_ALREADY_LIKED' ? undefined : Promise.reject(error)),
            );
            continue;
          }
          await like;
          liked.add(key);
        }
      };
      await Promise.all(Array.from({ length: workers }, (_, worker) => loop(worker)));
    },
  };
}

/** A like event upcast to its current shape; `schemaVersion` is the shape it was stored in. */
export type LikeEvent = ProjectedEvent<typeof likeEvents> & { schemaVersion: number };

/**
 * Every like event of the log in its current shape, upcast by the domain's own codec:
 * what the folds in the tests start from.
 */
export async function likeEventsOf(store: EventStore): Promise<LikeEvent[]> {
  const events = await everyEvent(store, { categories: [postLikes.category] });
  return events.map((event) => ({ ...event, ...postLikes.eventCodec.decode(event) }) as LikeEvent);
}
