import { defineProjection, type EventStore } from 'annals';
import { describe, expect, it } from 'vitest';
import { likeCounts } from '../../../projections/like-counts/like-counts.projection.js';
import { createTestStore } from '../../setup/database.js';
import { catchUp, generationsOf, readModel, seed, seededRandom } from './support/examples.js';
import { likeEventsOf, likesSimulation } from './support/likes-history.js';

const store: EventStore = await createTestStore('ex_like_counts');
const likes = likesSimulation(store, seededRandom(seed), { posts: 40, users: 60 });

/** Folded from the log: +1 per LikeCreated, -1 per LikeRemoved, per post. */
async function expectedCounts(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const { type, data } of await likeEventsOf(store)) counts[data.postId] = (counts[data.postId] ?? 0) + (type === 'LikeCreated' ? 1 : -1);
  return counts;
}

async function readCounts(): Promise<Record<string, number>> {
  const rows = await readModel<{ post_id: string; likes: number }>(store, likeCounts, 'like_counts', 'post_id');
  return Object.fromEntries(rows.map((row) => [row.post_id, row.likes]));
}

describe(`the like-counts projection (SEED=${seed})`, () => {
  it('counts the likes of every post as the log says, batch after batch', async () => {
    await likes.importFirstRelease(15);
    await likes.run(300);
    // Batches of 25: a post's likes spread over many batches, and cancel out within some.
    await catchUp(store, [likeCounts], { batchSize: 25 });
    expect(await readCounts()).toEqual(await expectedCounts());

    await likes.run(200);
    await catchUp(store, [likeCounts], { batchSize: 25 });
    expect(await readCounts()).toEqual(await expectedCounts());

    const events = await likeEventsOf(store);
    expect(events.filter((event) => event.type === 'LikeRemoved').length).toBeGreaterThan(0);
    expect(events.filter((event) => event.type === 'LikeCreated' && event.schemaVersion === 1)).toHaveLength(15);
  });

  it('rebuilds through the set-based replay path into the same counts, then goes on live', async () => {
    let replayed = 0;
    const v2 = defineProjection({
      ...likeCounts.definition,
      version: 2,
      replayBatch: (events, context) => {
        replayed += events.length;
        return likeCounts.definition.replayBatch!(events, context);
      },
    });
    await catchUp(store, [v2], { replayBatchSize: 37 });
    expect(await generationsOf(store, v2)).toEqual([[2, 'live']]);
    expect(replayed).toBe((await likeEventsOf(store)).length);
    expect(await readCounts()).toEqual(await expectedCounts());

    await likes.run(100);
    await catchUp(store, [v2]);
    expect(await readCounts()).toEqual(await expectedCounts());
  });
});
