import { randomUUID } from 'node:crypto';
import {
  catchUpProjections,
  listDeadLetters,
  ProjectionStoppedError,
  projectionStatus,
  readSchemaOf,
  resumeProjection,
  retryDeadLetter,
  runProjections,
  setupProjection,
  ValidationError,
  type EventStore,
} from 'annals';
import { describe, expect, it } from 'vitest';
import { createTestStore, eventually } from '../setup/database.js';
import { likeCountsProjection } from './support/like-counts.js';

const store: EventStore = await createTestStore('projection_worker');

const like = (postId: string, userId: string = randomUUID()) => ({ type: 'LikeCreated', data: { postId, userId }, schemaVersion: 2 });
const unlike = (postId: string, userId: string) => ({ type: 'LikeRemoved', data: { postId, userId } });

async function counts(name: string): Promise<Record<string, number>> {
  const projection = likeCountsProjection({ name });
  const rows = await store.withTransaction((tx) =>
    tx.query<{ post_id: string; likes: number }>(`SELECT post_id, likes FROM "${readSchemaOf(store.schema, projection)}".like_counts ORDER BY post_id`),
  );
  return Object.fromEntries(rows.map((row) => [row.post_id, row.likes]));
}

describe('a projection worker', () => {
  it('builds the read model from the log and keeps the checkpoint with it', async () => {
    const projection = likeCountsProjection({ name: 'basic' });
    await store.appendToStream('post-a', [like('a'), like('a'), like('a', 'u1')]);
    await store.appendToStream('post-b', [like('b')]);
    await store.appendToStream('post-a', [unlike('a', 'u1')]);
    await catchUpProjections(store, [projection]);
    expect(await counts('basic')).toEqual({ a: 2, b: 1 });
    await store.appendToStream('post-b', [like('b')]);
    await catchUpProjections(store, [projection]);
    expect(await counts('basic')).toEqual({ a: 2, b: 2 });
    const status = await projectionStatus(store, [projection]);
    expect(status.partitions).toHaveLength(1);
    expect(status.partitions[0]).toMatchObject({ lag: 0, status: 'live', eventsProcessed: 6 });
  });

  it('with `until`, waits for an append the log cannot show yet because an older appender is open', async () => {
    const projection = likeCountsProjection({ name: 'until' });
    await catchUpProjections(store, [projection]);
    let commit!: () => void;
    const mayCommit = new Promise<void>((resolve) => (commit = resolve));
    let appended!: () => void;
    const hasAppended = new Promise<void>((resolve) => (appended = resolve));
    // An older transaction of this store that has appended: the log's bound stops below it.
    const older = store.withTransaction(async (tx) => {
      await tx.appendToStream(`post-${randomUUID()}`, [unlike('z', 'nobody')]);
      appended();
      await mayCommit;
    });
    await hasAppended;
    const postId = randomUUID();
    const { lastGlobalPosition } = await store.appendToStream(`post-${postId}`, [like(postId)]);
    expect(await store.headPosition()).toBeLessThan(lastGlobalPosition);
    let done = false;
    const caughtUp = catchUpProjections(store, [projection], { until: lastGlobalPosition }).then(() => (done = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(done).toBe(false);
    expect((await counts('until'))[postId]).toBeUndefined();
    commit();
    await older;
    await caughtUp;
    expect((await counts('until'))[postId]).toBe(1);
  });

  it('is woken by LISTEN/NOTIFY after a commit, not by polling, and not by a rolled-back append', async () => {
    let notified = 0;
    const subscription = await store.subscribeToAppends(() => notified++);
    try {
      await expect(
        store.withTransaction(async (tx) => {
          await tx.appendToStream(`post-${randomUUID()}`, [like('rolled-back')]);
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(notified).toBe(0);
      await store.appendToStream(`post-${randomUUID()}`, [like('notify')]);
      await eventually(async () => expect(notified).toBeGreaterThan(0));
    } finally {
      await subscription.close();
    }

    // A worker that would poll only once a minute still applies a new event within seconds.
    const projection = likeCountsProjection({ name: 'woken' });
    await catchUpProjections(store, [projection]);
    const seen: bigint[] = [];
    // A long lease too: its renewal rounds (a third of it) also wake the worker.
    const runner = runProjections(store, [projection], { pollIntervalMs: 60_000, leaseTtlMs: 60_000, onBatch: (batch) => seen.push(batch.position) });
    try {
      await runner.ready;
      await new Promise((resolve) => setTimeout(resolve, 300));
      const postId = randomUUID();
      const { lastGlobalPosition } = await store.appendToStream(`post-${postId}`, [like(postId)]);
      await eventually(async () => expect(seen.some((position) => position >= lastGlobalPosition)).toBe(true), 10_000);
      expect((await counts('woken'))[postId]).toBe(1);
    } finally {
      await runner.stop();
    }
  });

  it('stopped while still starting: leaves no worker registered and no partition owned', async () => {
    const runner = runProjections(store, [likeCountsProjection({ name: 'early-stop' })], { leaseTtlMs: 300 });
    await runner.stop();
    await new Promise((resolve) => setTimeout(resolve, 800));
    const rows = await store.withTransaction(async (tx) => ({
      workers: await tx.query(`SELECT 1 FROM "${store.schema}".consumer_workers WHERE worker_id = $1`, [runner.workerId]),
      leases: await tx.query(`SELECT 1 FROM "${store.schema}".consumer_partitions WHERE owner = $1`, [runner.workerId]),
    }));
    expect(rows).toEqual({ workers: [], leases: [] });
  });

  it('dead-letters an event its handler keeps failing on, goes on, and retries it after a fix', async () => {
    let broken = true;
    const projection = likeCountsProjection({ name: 'flaky', failOn: (postId) => broken && postId === 'bad' });
    await store.appendToStream(`post-${randomUUID()}`, [like('good'), like('bad'), like('good')]);
    await catchUpProjections(store, [projection], { retries: { attempts: 3, minDelayMs: 1, maxDelayMs: 5 } });
    const counted = await counts('flaky');
    expect(counted.good).toBeGreaterThanOrEqual(2);
    expect(counted.bad).toBeUndefined();
    const [dead] = await listDeadLetters(store, { projection: 'flaky' });
    expect(dead).toMatchObject({ eventType: 'LikeCreated', attempts: 3, status: 'pending' });
    expect(dead!.error).toContain('refusing post bad');
    broken = false;
    await retryDeadLetter(store, [projection], dead!.id);
    expect((await counts('flaky')).bad).toBe(1);
    expect(await listDeadLetters(store, { projection: 'flaky' })).toEqual([]);
  });

  it('with onFailure stop, stops the partition at the failing event; resumed after a fix, it goes on from there', async () => {
    let broken = true;
    const projection = likeCountsProjection({ name: 'stopping', failOn: (postId) => broken && postId === 'poison' });
    await setupProjection(store, projection);
    const stream = `post-${randomUUID()}`;
    const { lastGlobalPosition } = await store.appendToStream(stream, [like('before'), like('poison'), like('after')]);
    const options = { retries: { attempts: 2, minDelayMs: 1, maxDelayMs: 2 }, onFailure: 'stop' as const, until: lastGlobalPosition };
    const error = await catchUpProjections(store, [projection], options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProjectionStoppedError);
    expect((error as ProjectionStoppedError).reason).toContain('refusing post poison');
    // The event before the culprit committed; nothing after it was applied or skipped.
    const mine = async () => {
      const all = await counts('stopping');
      return Object.fromEntries(['before', 'poison', 'after'].filter((key) => key in all).map((key) => [key, all[key]]));
    };
    expect(await mine()).toEqual({ before: 1 });
    expect(await listDeadLetters(store, { projection: 'stopping' })).toEqual([]);
    const [stopped] = (await projectionStatus(store, [projection])).partitions;
    expect(stopped).toMatchObject({ owner: null, lag: 2 });
    expect(stopped!.stoppedError).toContain('refusing post poison');

    broken = false;
    expect(await resumeProjection(store, 'stopping')).toBe(1);
    await catchUpProjections(store, [projection], { ...options, onFailure: 'dead-letter' });
    expect(await mine()).toEqual({ before: 1, poison: 1, after: 1 });
  });

  it('rebuilds into a new generation when the version is bumped, and switches readers to it', async () => {
    const v1 = likeCountsProjection({ name: 'versioned' });
    await store.appendToStream(`post-${randomUUID()}`, [like('v'), like('v')]);
    await catchUpProjections(store, [v1]);
    const before = await counts('versioned');
    const v2 = likeCountsProjection({ name: 'versioned', version: 2 });
    await catchUpProjections(store, [v2]);
    expect(await counts('versioned')).toEqual(before);
    const status = await projectionStatus(store, [v2]);
    expect(status.partitions.map((p) => [p.generation, p.status])).toEqual([[2, 'live']]);

    // Older code: no worker of it touches version 2, so catching up with it is refused.
    const error = await catchUpProjections(store, [v1]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues).toEqual([
      { field: 'projections[0].version', reason: "'versioned' is live at version 2, not at this code's 1; run the newer code" },
    ]);
    expect(await counts('versioned')).toEqual(before);
    // Newer code with rebuilds turned off: nothing of its version to process either.
    const v3 = likeCountsProjection({ name: 'versioned', version: 3 });
    const off = await catchUpProjections(store, [v3], { autoRebuild: false }).catch((e: unknown) => e);
    expect((off as ValidationError).issues).toEqual([
      {
        field: 'projections[0].version',
        reason: "'versioned' is live at version 2, not at this code's 3; start a rebuild (annals projections rebuild) or leave autoRebuild on",
      },
    ]);
  });
});
