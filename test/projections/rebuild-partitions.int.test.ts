import { randomUUID } from 'node:crypto';
import { catchUpProjections, runProjections, setupProjection, ValidationError, withInlineProjections, type EventStore } from 'annals';
import { describe, expect, it } from 'vitest';
import { createTestStore } from '../setup/database.js';
import { likeCountsProjection } from './support/like-counts.js';

// Issue 10, part 6: workers route events by the code's `partitions`, but a generation
// keeps the partition rows it was created with; events of a partition with no row would
// be stepped over for good. A different count at the same version is refused.

const store: EventStore = await createTestStore('rebuild_partitions');

const like = (postId: string) => ({ type: 'LikeCreated', data: { postId, userId: randomUUID() }, schemaVersion: 2 });

async function refusal(promise: Promise<unknown>): Promise<ValidationError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ValidationError);
  return error as ValidationError;
}

describe('changing partitions', () => {
  it('without a version bump is refused by setup, workers, catch-up and inline appends', async () => {
    const name = 'parts';
    await setupProjection(store, likeCountsProjection({ name }));
    const twoPartitions = likeCountsProjection({ name, partitions: 2 });

    const error = await refusal(setupProjection(store, twoPartitions));
    expect(error.field).toBe('partitions');
    expect(error.reason).toMatch(/version 1 has 1 partition/);
    expect(error.reason).toMatch(/bump the version/);

    const runner = runProjections(store, [twoPartitions]);
    expect((await refusal(runner.ready)).field).toBe('partitions');
    await runner.stop();
    expect((await refusal(catchUpProjections(store, [twoPartitions]))).field).toBe('partitions');
    expect((await refusal(withInlineProjections(store, [twoPartitions]).appendToStream(`post-${randomUUID()}`, [like('a')]))).field).toBe('partitions');

    // With a bump, the new version rebuilds on 2 partitions.
    await catchUpProjections(store, [likeCountsProjection({ name, partitions: 2, version: 2 })]);
  });

  it('is refused against a rebuild under way of the same version', async () => {
    const name = 'parts_building';
    await setupProjection(store, likeCountsProjection({ name }));
    await setupProjection(store, likeCountsProjection({ name, version: 2, partitions: 2 }), { autoRebuild: true });
    const error = await refusal(setupProjection(store, likeCountsProjection({ name, version: 2, partitions: 3 })));
    expect(error.field).toBe('partitions');
    expect(error.reason).toMatch(/version 2 has 2 partitions/);
  });
});
