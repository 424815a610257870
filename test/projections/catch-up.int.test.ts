import { randomUUID } from 'node:crypto';
import { catchUpProjections, ProjectionTimeoutError, readSchemaOf, type EventStore } from 'annals';
import { describe, expect, it } from 'vitest';
import { createTestStore } from '../setup/database.js';
import { likeCountsProjection } from './support/like-counts.js';

const store: EventStore = await createTestStore('catch_up');

const like = (postId: string) => ({ type: 'LikeCreated', data: { postId, userId: randomUUID() }, schemaVersion: 2 });

async function likesOf(projection: ReturnType<typeof likeCountsProjection>, post: string): Promise<number> {
  const rows = await store.withTransaction((tx) =>
    tx.query<{ likes: number }>(`SELECT likes FROM "${readSchemaOf(store.schema, projection)}".like_counts WHERE post_id = $1`, [post]),
  );
  return rows[0]?.likes ?? 0;
}

/** A transaction of this store that appends a like to `post` and commits when told. */
function openAppender(post: string) {
  let commit!: () => void;
  const mayCommit = new Promise<void>((resolve) => (commit = resolve));
  let appended!: () => void;
  const hasAppended = new Promise<void>((resolve) => (appended = resolve));
  const done = store.withTransaction(async (tx) => {
    await tx.appendToStream(`post-${post}`, [like(post)]);
    appended();
    await mayCommit;
  });
  return { hasAppended, commit, done };
}

describe('catchUpProjections covers everything committed before the call', () => {
  it('waits for an older open transaction that holds back an event committed before the call', async () => {
    const projection = likeCountsProjection({ name: `catch_${randomUUID().slice(0, 6)}` });
    await catchUpProjections(store, [projection]); // set up, nothing to do yet
    const slowPost = `slow${randomUUID().slice(0, 6)}`;
    const fastPost = `fast${randomUUID().slice(0, 6)}`;

    const slow = openAppender(slowPost);
    await slow.hasAppended;
    await store.appendToStream(`post-${fastPost}`, [like(fastPost)]); // committed, not yet visible
    let committedAt = 0;
    const commitLater = new Promise<void>((resolve) =>
      setTimeout(() => {
        committedAt = Date.now();
        slow.commit();
        resolve();
      }, 1_500),
    );

    await catchUpProjections(store, [projection]);
    const returnedAt = Date.now();
    await commitLater;
    await slow.done;
    // It returned only after the slow transaction committed, with both events applied.
    expect(committedAt).toBeGreaterThan(0);
    expect(returnedAt).toBeGreaterThanOrEqual(committedAt);
    expect(await likesOf(projection, fastPost)).toBe(1);
    expect(await likesOf(projection, slowPost)).toBe(1);
  });

  it('times out naming the session that holds the log back', async () => {
    const projection = likeCountsProjection({ name: `stuck_${randomUUID().slice(0, 6)}` });
    await catchUpProjections(store, [projection]);
    const post = `stuck${randomUUID().slice(0, 6)}`;
    const slow = openAppender(post);
    try {
      await slow.hasAppended;
      // Another stream: the slow transaction holds its own stream's row until it ends.
      await store.appendToStream(`post-${post}-again`, [like(post)]);
      const error = await catchUpProjections(store, [projection], { timeoutMs: 1_000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProjectionTimeoutError);
      expect((error as Error).message).toMatch(/held back by pid \d+ .*idle in transaction/);
    } finally {
      slow.commit();
      await slow.done;
    }
    await catchUpProjections(store, [projection]);
    expect(await likesOf(projection, post)).toBe(2);
  });
});
