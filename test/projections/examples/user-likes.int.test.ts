import { defineProjection, type EventStore } from 'annals';
import { describe, expect, it } from 'vitest';
import { userLikes } from '../../../projections/user-likes/user-likes.projection.js';
import { createTestStore } from '../../setup/database.js';
import { catchUp, generationsOf, readModel, seed, seededRandom } from './support/examples.js';
import { likeEventsOf, likesSimulation } from './support/likes-history.js';

const store: EventStore = await createTestStore('ex_user_likes');
const likes = likesSimulation(store, seededRandom(seed), { posts: 30, users: 40 });

interface Row {
  user_id: string;
  post_id: string;
  liked_at: Date;
}

const byKey = (a: Row, b: Row) => (a.user_id + '|' + a.post_id < b.user_id + '|' + b.post_id ? -1 : 1);

/** Folded from the log: a like adds the pair (when it was liked), an unlike removes it. */
async function expectedRows(): Promise<Row[]> {
  const standing = new Map<string, Row>();
  for (const { type, data, recordedAt } of await likeEventsOf(store)) {
    const key = `${data.userId}|${data.postId}`;
    if (type === 'LikeCreated') standing.set(key, { user_id: data.userId, post_id: data.postId, liked_at: recordedAt });
    else standing.delete(key);
  }
  return [...standing.values()].sort(byKey);
}

const readRows = async () => (await readModel<Row>(store, userLikes, 'user_likes', 'user_id, post_id')).sort(byKey);

describe(`the user-likes projection (SEED=${seed})`, () => {
  it('lists the posts each user likes now, as the log says', async () => {
    await likes.importFirstRelease(10);
    await likes.run(300);
    await catchUp(store, [userLikes], { batchSize: 40 });
    expect(await readRows()).toEqual(await expectedRows());

    await likes.run(200);
    await catchUp(store, [userLikes]);
    const expected = await expectedRows();
    expect(await readRows()).toEqual(expected);
    // Unliked and liked again: the row holds the second like's time.
    const events = await likeEventsOf(store);
    const relikes = events.filter(
      (e, i) => e.type === 'LikeCreated' && events.slice(0, i).some((f) => f.type === 'LikeRemoved' && f.data.userId === e.data.userId && f.data.postId === e.data.postId),
    );
    expect(relikes.length).toBeGreaterThan(0);
  });

  it('rebuilds into four partitions, in parallel, with the same rows', async () => {
    // The pairs of one post are in one stream, so every partition sees a pair's like and
    // unlike in order.
    const v2 = defineProjection({ ...userLikes.definition, version: userLikes.version + 1, partitions: 4 });
    await catchUp(store, [v2], { replayBatchSize: 50 });
    expect(await generationsOf(store, v2)).toEqual([[2, 'live']]);
    expect(await readRows()).toEqual(await expectedRows());
  });
});
