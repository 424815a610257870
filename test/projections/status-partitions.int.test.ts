import { describe, expect, it } from 'vitest';
import { catchUpProjections, partitionOfKey, projectionStatus, setupProjection } from '../../src/index.js';
import { createTestStore } from '../setup/database.js';
import { counted, tallyProjection } from '../support/tally.js';

// A projection keyed by stream id has its lag counted per partition by Postgres (readAll's
// `partition`): each partition's lag is the events it still has to process, not every
// partition's events after its checkpoint.

const store = await createTestStore('status_partitions');
const projection = tallyProjection({ name: 'tally-parts', partitions: 3 });

describe('projectionStatus with several partitions', () => {
  it("counts each partition's own events as its lag, which add up to the log's", async () => {
    await setupProjection(store, projection);
    const streams = Array.from({ length: 9 }, (_, i) => `tally-s${i}`);
    for (const [i, stream] of streams.entries()) {
      await store.appendToStream(stream, Array.from({ length: i + 1 }, () => counted('k')), { expectedVersion: 'any' });
    }
    const expected = [0, 1, 2].map((partition) =>
      streams.reduce((sum, stream, i) => sum + (partitionOfKey(stream, 3) === partition ? i + 1 : 0), 0),
    );
    // Spread over more than one partition, or the test could not tell the two counts apart.
    expect(expected.filter((n) => n > 0).length).toBeGreaterThan(1);

    const before = await projectionStatus(store, [projection]);
    expect(before.partitions.map((p) => p.lag)).toEqual(expected);
    expect(before.partitions.reduce((sum, p) => sum + p.lag, 0)).toBe(45);

    await catchUpProjections(store, [projection]);
    const after = await projectionStatus(store, [projection]);
    expect(after.partitions.map((p) => p.lag)).toEqual([0, 0, 0]);
    expect(after.partitions.map((p) => p.eventsProcessed)).toEqual(expected);
  });
});
