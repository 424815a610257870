import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  catchUpConsumers,
  catchUpProjections,
  createEventStore,
  defineConsumer,
  listConsumerDeadLetters,
  skipConsumerDeadLetter,
  defineAggregate,
  defineRetention,
  loadAggregate,
  runRetention,
  setupProjection,
  StreamTruncatedError,
  ValidationError,
} from '../../src/index.js';
import { createTestStore } from '../setup/database.js';
import { counted, tallyProjection } from '../support/tally.js';

// The retention job (docs/retention.md): the events a policy expires are physically
// removed, per stream oldest first, never one a reader of the log still needs.

const store = await createTestStore('run_retention');

/** `count` events on `streamId`, each { key }. */
async function append(streamId: string, count: number): Promise<void> {
  await store.appendToStream(streamId, Array.from({ length: count }, () => counted(streamId)), { expectedVersion: 'any' });
}

const versions = async (streamId: string) => (await store.readStream(streamId)).map((e) => e.version);
const stored = async (streamId: string) =>
  (await store.withTransaction((tx) => tx.query<{ v: string }>(`SELECT stream_version::text AS v FROM ${tx.schema}.events WHERE stream_id = $1 ORDER BY stream_version`, [streamId]), { appends: false })).map((r) => Number(r.v));

describe('runRetention', () => {
  it('keeps the newest maxCount events of each stream, moving truncate_before past the removed ones', async () => {
    await append('cnt-a', 10);
    await append('cnt-b', 2);
    const report = await runRetention(store, defineRetention({ categories: { cnt: { maxCount: 3 } } }));
    expect(report.results).toEqual([{ category: 'cnt', streamId: undefined, removed: 7, waiting: 0 }]);
    expect(await stored('cnt-a')).toEqual([8, 9, 10]);
    expect(await versions('cnt-a')).toEqual([8, 9, 10]);
    expect((await store.getStreamInfo('cnt-a'))!.truncateBefore).toBe(8);
    expect(await stored('cnt-b')).toEqual([1, 2]);
    // Idempotent: nothing more is due.
    expect((await runRetention(store, defineRetention({ categories: { cnt: { maxCount: 3 } } }))).results[0]!.removed).toBe(0);
    // Versions go on after the removed ones.
    await append('cnt-a', 1);
    expect(await versions('cnt-a')).toEqual([8, 9, 10, 11]);
  });

  it('removes events older than maxAgeMs as a prefix of the stream, and deleted streams with afterDelete', async () => {
    await append('age-a', 5);
    // Three of them recorded two days ago, the fourth "older" than the third: it must not leave a hole.
    await store.withTransaction((tx) =>
      tx.query(`UPDATE ${tx.schema}.events SET recorded_at = now() - interval '2 days' - (stream_version * interval '1 second') WHERE stream_id = 'age-a' AND stream_version IN (1, 2, 4)`),
    { appends: false });
    await append('age-gone', 3);
    await store.deleteStream('age-gone');
    const report = await runRetention(store, defineRetention({ categories: { age: { maxAgeMs: 86_400_000, afterDelete: true } } }));
    // The log's newest event (the deleted stream's last) stays until another comes after it.
    expect(report.results[0]!.removed).toBe(2 + 2);
    expect(await stored('age-a')).toEqual([3, 4, 5]);
    expect(await stored('age-gone')).toEqual([3]);
    expect(report.safePosition).toBe((await store.headPosition()) - 1n);
    await append('age-later', 1);
    const next = await runRetention(store, defineRetention({ categories: { age: { maxAgeMs: 86_400_000, afterDelete: true } } }));
    expect(next.results[0]!.removed).toBe(1);
    expect(await stored('age-gone')).toEqual([]);
  });

  it("removes what truncateStream hid by default, keeps a 'keep' stream, and applies a stream's own rule", async () => {
    await append('tr-a', 6);
    await store.truncateStream('tr-a', { before: 5 });
    await append('tr-kept', 4);
    await store.truncateStream('tr-kept', { before: 3 });
    await append('tr-own', 6);
    const retention = defineRetention({ categories: { tr: {} }, streams: { 'tr-kept': 'keep', 'tr-own': { maxCount: 1 } } });
    const report = await runRetention(store, retention);
    expect(report.results).toEqual([
      { category: 'tr', streamId: undefined, removed: 4, waiting: 0 },
      { category: 'tr', streamId: 'tr-own', removed: 5, waiting: 0 },
    ]);
    expect(await stored('tr-a')).toEqual([5, 6]);
    expect(await stored('tr-kept')).toEqual([1, 2, 3, 4]);
    expect(await stored('tr-own')).toEqual([6]);
  });

  it('never removes an event a projection has not processed: it waits, naming the projection', async () => {
    // A store of its own: a projection that is behind holds back every category it reads.
    const store = await createTestStore('run_retention_held');
    const projection = tallyProjection({ name: 'retention-tally' });
    await setupProjection(store, projection);
    await store.appendToStream('tally-r1', Array.from({ length: 5 }, () => counted('r1')), { expectedVersion: 'no_stream' });
    const stored = async (streamId: string) => (await store.readAll()).filter((e) => e.streamId === streamId).map((e) => e.version);
    const retention = defineRetention({ categories: { tally: { maxCount: 1 } } });
    const held = await runRetention(store, retention);
    expect(held.results[0]).toMatchObject({ removed: 0, waiting: 4 });
    expect(held.heldBackBy).toEqual([{ kind: 'projection', name: 'retention-tally (generation 1)', position: expect.any(BigInt) }]);
    expect(await stored('tally-r1')).toEqual([1, 2, 3, 4, 5]);

    await catchUpProjections(store, [projection]);
    const released = await runRetention(store, retention);
    expect(released.results[0]).toMatchObject({ removed: 4, waiting: 0 });
    expect(await stored('tally-r1')).toEqual([5]);
  });

  it('is held back by a saved checkpoint, and a dry run removes nothing', async () => {
    await append('ck-a', 4);
    const [second] = (await store.readStream('ck-a', { fromVersion: 2, limit: 1 })).map((e) => e.globalPosition);
    await store.saveCheckpoint('nightly-export', second!);
    const retention = defineRetention({ categories: { ck: { maxCount: 1 } } });
    const dry = await runRetention(store, retention, { dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, safePosition: second, heldBackBy: [{ kind: 'checkpoint', name: 'nightly-export', position: second }] });
    expect(dry.results.find((r) => r.category === 'ck')).toMatchObject({ removed: 2, waiting: 1 });
    expect(await stored('ck-a')).toEqual([1, 2, 3, 4]);
    const run = await runRetention(store, retention);
    expect(run.results.find((r) => r.category === 'ck')).toMatchObject({ removed: 2, waiting: 1 });
    expect(await stored('ck-a')).toEqual([3, 4]);
    await store.withTransaction((tx) => tx.query(`DELETE FROM ${tx.schema}.checkpoints WHERE name = 'nightly-export'`), { appends: false });
  });

  it("keeps a consumer's dead-lettered event until the dead letter is resolved, though its checkpoint moved past it", async () => {
    const store = await createTestStore('run_retention_dead');
    await store.appendToStream('dl-a', [counted('ok'), counted('poison'), counted('ok'), counted('ok')], { expectedVersion: 'no_stream' });
    const consumer = defineConsumer({
      name: 'picky',
      categories: ['dl'],
      handle: async (events) => {
        if (events.some((e) => (e.data as { key: string }).key === 'poison')) throw new Error('cannot handle poison');
      },
    });
    await catchUpConsumers(store, [consumer], { retries: { attempts: 1, minDelayMs: 1, maxDelayMs: 1 } });
    const [letter] = await listConsumerDeadLetters(store, { consumer: 'picky' });
    expect(letter).toBeDefined();
    const retention = defineRetention({ categories: { dl: { maxCount: 1 } } });
    const held = await runRetention(store, retention);
    expect(held.heldBackBy).toEqual([{ kind: 'dead letter', name: 'picky', position: letter!.globalPosition - 1n }]);
    // Only what lies before the dead-lettered event goes.
    expect((await store.readAll({ categories: ['dl'] })).map((e) => e.version)).toEqual([2, 3, 4]);
    await skipConsumerDeadLetter(store, letter!.id);
    await runRetention(store, retention);
    expect((await store.readAll({ categories: ['dl'] })).map((e) => e.version)).toEqual([4]);
  });

  it('leaves a reader resuming inside a removed range to go on after it, in order', async () => {
    await append('gap-a', 4);
    await append('gap-b', 2);
    const before = await store.readAll({ categories: ['gap'] });
    await runRetention(store, defineRetention({ categories: { gap: { maxCount: 2 } } }));
    // A reader whose checkpoint is the first (now removed) event reads what is left, in log order.
    const after = await store.readAll({ after: before[0]!.globalPosition, categories: ['gap'] });
    expect(after.map((e) => `${e.streamId}@${e.version}`)).toEqual(before.filter((e) => e.streamId === 'gap-b' || e.version > 2).map((e) => `${e.streamId}@${e.version}`));
  });

  it('an aggregate whose early events were removed refuses to load from half its history', async () => {
    const account = defineAggregate({
      category: 'ret',
      initialState: () => ({ n: 0 }),
      events: { Counted: z.object({ key: z.string() }) },
      commands: { Noop: z.object({}) },
      evolve: (state) => ({ n: state.n + 1 }),
      decide: () => [],
    });
    await append('ret-1', 3);
    await runRetention(store, defineRetention({ categories: { ret: { maxCount: 1 } } }));
    await expect(loadAggregate(store, account, '1')).rejects.toBeInstanceOf(StreamTruncatedError);
  });

  it('runs in batches while writers append to the same streams: every new event kept, nothing half-removed', async () => {
    await append('busy-a', 50);
    const retention = defineRetention({ categories: { busy: { maxCount: 10 } } });
    const writers = (async () => {
      for (let i = 0; i < 20; i++) await append('busy-a', 2);
    })();
    const runs = (async () => {
      for (let i = 0; i < 5; i++) await runRetention(store, retention, { batchSize: 7 });
    })();
    await Promise.all([writers, runs]);
    await runRetention(store, retention, { batchSize: 7 });
    expect(await stored('busy-a')).toEqual(Array.from({ length: 10 }, (_, i) => 81 + i));
    expect(await versions('busy-a')).toEqual(Array.from({ length: 10 }, (_, i) => 81 + i));
  });

  it('works through a category of many streams a slice at a time', async () => {
    await store.withTransaction(async (tx) => {
      for (let i = 0; i < 1_200; i++) await tx.appendToStream(`many-${String(i).padStart(4, '0')}`, [counted('a'), counted('b'), counted('c')], { expectedVersion: 'no_stream' });
    });
    const report = await runRetention(store, defineRetention({ categories: { many: { maxCount: 1 } } }), { batchSize: 250 });
    expect(report.results[0]).toMatchObject({ removed: 2_400, waiting: 0 });
    const left = await store.withTransaction((tx) => tx.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${tx.schema}.events WHERE category = 'many' AND stream_version = 3`), { appends: false });
    expect(left[0]!.n).toBe('1200');
    expect((await store.readAll({ categories: ['many'] })).length).toBe(1_200);
  });

  it('refuses a policy or options that are not ones, naming the field', () => {
    const refused = (policy: unknown) => {
      try {
        defineRetention(policy as never);
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        return (error as ValidationError).issues.map((issue) => `${issue.field}: ${issue.reason}`);
      }
      return [];
    };
    expect(refused({ categories: { post: { maxCount: 0 } } })).toEqual(['retention.categories.post.maxCount: must be at least 1']);
    expect(refused({ streams: { 'post-1': 'forever' } })).toEqual(['retention.streams["post-1"]: must be a rule or \'keep\'']);
    expect(refused({ categories: { post: { maxAge: 5 } } })[0]).toMatch(/^retention\.categories\.post/);
  });

  it('refuses run options that are not ones', async () => {
    const error = await runRetention(store, defineRetention({}), { batchSize: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]).toMatchObject({ field: 'options.batchSize', reason: 'must be at least 1' });
  });
});


describe('runRetention on PGlite', () => {
  it('removes, and is held back by a checkpoint, on the embedded database too', async () => {
    const embedded = createEventStore({ pglite: 'memory://' }, { schema: 'annals' });
    try {
      await embedded.migrate();
      await embedded.appendToStream('pg-a', Array.from({ length: 5 }, () => counted('a')), { expectedVersion: 'no_stream' });
      const retention = defineRetention({ categories: { pg: { maxCount: 2, maxAgeMs: 86_400_000 } } });
      const [second] = await embedded.readStream('pg-a', { fromVersion: 2, limit: 1 });
      await embedded.saveCheckpoint('reader', second!.globalPosition);
      const report = await runRetention(embedded, retention);
      expect(report.results[0]).toMatchObject({ removed: 2, waiting: 1 });
      expect(report.heldBackBy).toEqual([{ kind: 'checkpoint', name: 'reader', position: second!.globalPosition }]);
      expect((await embedded.readStream('pg-a')).map((e) => e.version)).toEqual([3, 4, 5]);
    } finally {
      await embedded.close();
    }
  });
});
