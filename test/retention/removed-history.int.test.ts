import { describe, expect, it } from 'vitest';
import {
  catchUpProjections,
  defineRetention,
  RemovedHistoryError,
  runRetention,
  setupProjection,
  startRebuild,
  type EventStore,
} from '../../src/index.js';
import { createTestStore } from '../setup/database.js';
import { counted, tallyProjection } from '../support/tally.js';

// A rebuild replays the log into a new read model that replaces the live one. After
// retention removed events it would need, it fails clearly, naming the position from which
// the history is complete, unless told to build from what is left.

const retention = defineRetention({ categories: { tally: { maxCount: 1 } } });

/** A store with a live, caught-up tally projection over 3 streams of 4 events. */
async function storeWithTally(prefix: string): Promise<{ store: EventStore; projection: ReturnType<typeof tallyProjection> }> {
  const store = await createTestStore(prefix);
  const projection = tallyProjection({ name: 'history-tally' });
  await setupProjection(store, projection);
  for (const stream of ['tally-a', 'tally-b', 'tally-c']) {
    await store.appendToStream(stream, Array.from({ length: 4 }, () => counted(stream)), { expectedVersion: 'no_stream' });
  }
  await catchUpProjections(store, [projection]);
  return { store, projection };
}

const removedCount = (store: EventStore) =>
  store.withTransaction(async (tx) => {
    const [row] = await tx.query<{ n: string | null; through: string | null }>(`SELECT sum(removed_events)::text AS n, max(removed_through)::text AS through FROM ${tx.schema}.retention_removed`);
    return { removed: Number(row?.n ?? 0), through: row?.through === null || row?.through === undefined ? undefined : BigInt(row.through) };
  }, { appends: false });

describe('rebuilds after retention', () => {
  it('refuses to rebuild from before the removed history, naming the position; rebuilds from it, or when told to accept it', async () => {
    const { store, projection } = await storeWithTally('removed_history');
    const report = await runRetention(store, retention);
    expect(report.results[0]!.removed).toBe(9);
    const { through } = await removedCount(store);

    const refused = await startRebuild(store, projection).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RemovedHistoryError);
    expect(refused).toMatchObject({ code: 'ANNALS_REMOVED_HISTORY', projection: 'history-tally', category: 'tally', removedThrough: through });
    expect((refused as Error).message).toContain(`--from ${through}`);

    // A version bump's automatic rebuild is refused alike.
    await expect(setupProjection(store, tallyProjection({ name: 'history-tally', version: 2 }))).rejects.toBeInstanceOf(RemovedHistoryError);

    const fromThere = await startRebuild(store, projection, { from: through! });
    expect(fromThere.status).toBe('building');
    const accepted = await startRebuild(store, tallyProjection({ name: 'history-tally', version: 3 }), { acceptRemovedHistory: true });
    expect(accepted).toMatchObject({ status: 'building', version: 3 });
  });

  it('a first build is not a rebuild: a projection new to the store builds from what the log holds', async () => {
    const { store } = await storeWithTally('removed_history_new');
    await runRetention(store, retention);
    const fresh = tallyProjection({ name: 'history-newcomer' });
    const [generation] = await setupProjection(store, fresh);
    expect(generation!.status).toBe('live');
    await catchUpProjections(store, [fresh]);
  });

  // Catches: a retention batch removing history after a rebuild checked for removals and
  // before its generation's checkpoints hold retention back (the lock orders them).
  it('a rebuild racing a retention run either is refused or holds every event back', async () => {
    for (let round = 0; round < 4; round++) {
      const { store, projection } = await storeWithTally(`removed_history_race${round}`);
      const [rebuild, run] = await Promise.allSettled([startRebuild(store, projection), runRetention(store, retention, { batchSize: 1 })]);
      expect(run.status).toBe('fulfilled');
      const { removed } = await removedCount(store);
      if (rebuild.status === 'fulfilled') expect(removed).toBe(0);
      else {
        expect(rebuild.reason).toBeInstanceOf(RemovedHistoryError);
        expect(removed).toBeGreaterThan(0);
      }
    }
  });
});
