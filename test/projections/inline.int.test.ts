import { randomUUID } from 'node:crypto';
import {
  catchUpProjections,
  handleCommand,
  partitionOfKey,
  readSchemaOf,
  runProjections,
  withInlineProjections,
  type EventStore,
  type EventStoreTransaction,
} from 'annals';
import { describe, expect, it } from 'vitest';
import { postLikes } from '../../domain/likes/likes.aggregate.js';
import { createTestStore, eventually } from '../setup/database.js';
import { likeCountsProjection } from './support/like-counts.js';

const store: EventStore = await createTestStore('projection_inline');

const like = (postId: string, userId: string = randomUUID()) => ({ type: 'LikeCreated', data: { postId, userId }, schemaVersion: 2 });

async function counts(name: string, only?: readonly string[]): Promise<Record<string, number>> {
  const schema = readSchemaOf(store.schema, likeCountsProjection({ name }));
  const rows = await store.withTransaction((tx) =>
    tx.query<{ post_id: string; likes: number }>(`SELECT post_id, likes FROM "${schema}".like_counts ORDER BY post_id`),
  );
  return Object.fromEntries(rows.filter((row) => !only || only.includes(row.post_id)).map((row) => [row.post_id, row.likes]));
}

/** Like counts from the log itself: what any correct like-count read model must equal. */
async function foldedCounts(postIds: readonly string[]): Promise<Record<string, number>> {
  const folded: Record<string, number> = {};
  for await (const event of store.iterateAll({ types: ['LikeCreated', 'LikeRemoved'] })) {
    const postId = (event.data as { postId: string }).postId;
    if (!postIds.includes(postId)) continue;
    folded[postId] = (folded[postId] ?? 0) + (event.type === 'LikeCreated' ? 1 : -1);
  }
  return folded;
}

/** An id whose stream `${category}-${id}` hashes to `partition` of 2. */
function postInPartition(category: string, partition: number): string {
  for (;;) {
    const postId = randomUUID();
    if (partitionOfKey(`${category}-${postId}`, 2) === partition) return postId;
  }
}

async function waitUntilCaughtUp(name: string, partition: number): Promise<void> {
  await eventually(async () => {
    const rows = await store.withTransaction((tx) =>
      tx.query<{ caught_up: boolean }>(
        `SELECT caught_up FROM "${store.schema}".consumer_partitions WHERE consumer = $1 AND partition = $2`,
        [name, partition],
      ),
    );
    expect(rows[0]?.caught_up).toBe(true);
  });
}

async function waitUntilLive(name: string): Promise<void> {
  await eventually(async () => {
    const live = await store.withTransaction((tx) =>
      tx.query(`SELECT 1 FROM "${store.schema}".projection_generations WHERE projection = $1 AND status = 'live'`, [name]),
    );
    expect(live).toHaveLength(1);
  });
}

describe('inline projections', () => {
  it('are up to date when the command returns, with no worker running', async () => {
    const inlineStore = withInlineProjections(store, [likeCountsProjection({ name: 'inline_basic' })]);
    const postId = randomUUID();
    await handleCommand(inlineStore, postLikes, postId, { type: 'LikePost', data: { postId, userId: 'ada' } });
    expect((await counts('inline_basic'))[postId]).toBe(1);
    await handleCommand(inlineStore, postLikes, postId, { type: 'LikePost', data: { postId, userId: 'bob' } });
    await handleCommand(inlineStore, postLikes, postId, { type: 'UnlikePost', data: { postId, userId: 'ada' } });
    expect((await counts('inline_basic'))[postId]).toBe(1);
  });

  it('commit with the append or not at all, count an idempotent retry once, and leave the caller’s search_path alone', async () => {
    const projection = likeCountsProjection({ name: 'inline_tx' });
    const inlineStore = withInlineProjections(store, [projection]);
    // The log already has events (the other tests'): a worker builds the first generation.
    await catchUpProjections(store, [projection], { inline: ['inline_tx'] });
    const postId = randomUUID();
    await expect(
      inlineStore.withTransaction(async (tx) => {
        await tx.appendToStream(`post-${postId}`, [like(postId)]);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect((await counts('inline_tx'))[postId]).toBeUndefined();

    const retried = { ...like(postId), id: randomUUID() };
    await inlineStore.appendToStream(`post-${postId}`, [retried]);
    await inlineStore.appendToStream(`post-${postId}`, [retried]);
    expect((await counts('inline_tx'))[postId]).toBe(1);

    const path = await inlineStore.withTransaction(async (tx) => {
      await tx.query(`SET LOCAL search_path TO "${store.schema}"`);
      await tx.appendToStream(`post-${postId}`, [like(postId)]);
      // Unqualified: still the store's schema, not the projection's.
      return tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE stream_id = $1`, [`post-${postId}`]);
    });
    expect(path[0]!.n).toBe(2);
  });

  it('over a log that already has events: built by a worker, then switched with no event lost while appends go on', async () => {
    const posts = Array.from({ length: 5 }, () => randomUUID());
    for (const postId of posts) await store.appendToStream(`post-${postId}`, [like(postId), like(postId)]);
    const v1 = likeCountsProjection({ name: 'inline_late' });
    const inlineStore = withInlineProjections(store, [v1]);

    // Appenders through the inline store keep going while a worker builds the first
    // generation and switches readers to it: every event must be counted exactly once,
    // either by the build (before the switch) or inline (after it).
    let writing = true;
    const writers = Array.from({ length: 6 }, async (_, w) => {
      for (let i = 0; writing || i < 3; i++) {
        const postId = posts[(w + i) % posts.length]!;
        await inlineStore.appendToStream(`post-${postId}`, [like(postId)]);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await catchUpProjections(store, [v1], { inline: ['inline_late'], replayBatchSize: 20 });
    writing = false;
    await Promise.all(writers);
    // eventually: the log shows the last appends once every older transaction has ended.
    await eventually(async () => expect(await counts('inline_late', posts)).toEqual(await foldedCounts(posts)));

    // A version bump rebuilds it the same way.
    const v2 = likeCountsProjection({ name: 'inline_late', version: 2 });
    const v2Store = withInlineProjections(store, [v2]);
    writing = true;
    const more = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; writing || i < 3; i++) {
        const postId = posts[(w + i) % posts.length]!;
        await v2Store.appendToStream(`post-${postId}`, [like(postId)]);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    });
    await catchUpProjections(store, [v2], { inline: ['inline_late'], replayBatchSize: 20 });
    writing = false;
    await Promise.all(more);
    await eventually(async () => expect(await counts('inline_late', posts)).toEqual(await foldedCounts(posts)));
  });

  it('in partitions owned by two workers: each partition drained from its own checkpoint at the switch, none twice', async () => {
    const posts = Array.from({ length: 9 }, () => randomUUID());
    for (const postId of posts) await store.appendToStream(`post-${postId}`, [like(postId), like(postId)]);
    const projection = likeCountsProjection({ name: 'inline_parts', partitions: 3 });
    const inlineStore = withInlineProjections(store, [projection]);
    let writing = true;
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; writing || i < 3; i++) {
        const postId = posts[(w + i) % posts.length]!;
        await inlineStore.appendToStream(`post-${postId}`, [like(postId)]);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    });
    // A second worker shares the partitions with catchUpProjections' own.
    const other = runProjections(store, [projection], { inline: ['inline_parts'], replayBatchSize: 7, pollIntervalMs: 20, leaseTtlMs: 600 });
    try {
      await catchUpProjections(store, [projection], { inline: ['inline_parts'], replayBatchSize: 7, leaseTtlMs: 600 });
    } finally {
      await other.stop();
    }
    writing = false;
    await Promise.all(writers);
    await eventually(async () => expect(await counts('inline_parts', posts)).toEqual(await foldedCounts(posts)));
  });
  it('a batch that commits while another partition switches the build is applied once: the switch waits for it', async () => {
    // The interleaving CI once hit, made certain: partition 0's batch has written its row
    // and is about to commit when partition 1 catches up and switches, draining
    // partition 0 from its checkpoint. The switch must see the checkpoint that batch
    // commits, not the one before it. Streams of their own category keep the other
    // tests' events out of these partitions.
    const name = 'inline_race';
    const [p0, p1] = [postInPartition('race', 0), postInPartition('race', 1)];
    const gate = (userId: string, stage: 'before' | 'after') => {
      let open!: () => void;
      let entered!: (pid: number) => void;
      return {
        userId,
        stage,
        used: false,
        opened: new Promise<void>((resolve) => (open = resolve)),
        entered: new Promise<number>((resolve) => (entered = resolve)),
        open: () => open(),
        enter: (pid: number) => entered(pid),
      };
    };
    // Partition 1's gate holds its batch before it writes, so its transaction has no id
    // and holds back no reader of the log; partition 0's holds its batch after the row
    // is written, so a drain that applies the same event has to wait for it.
    const gates = [gate('gate-0', 'after'), gate('gate-1', 'before')];
    const projection = likeCountsProjection({
      name,
      partitions: 2,
      categories: ['race'],
      // Each gate holds the first batch that applies its event (the worker's); a
      // switch's drain, coming later, goes through.
      hold: async (stage, event, context) => {
        const held = gates.find((g) => g.userId === event.data.userId && g.stage === stage && !g.used);
        if (!held) return;
        held.used = true;
        const [backend] = await context.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        held.enter(backend!.pid);
        await held.opened;
      },
    });
    await store.appendToStream(`race-${p0}`, [like(p0), like(p0)]);
    await store.appendToStream(`race-${p1}`, [like(p1, 'gate-1')]);
    const worker = runProjections(store, [projection], { inline: [name], pollIntervalMs: 20 });
    try {
      // Partition 1's first batch is held, so nothing switches; partition 0 catches up.
      await gates[1]!.entered;
      await waitUntilCaughtUp(name, 0);
      // Partition 0's next batch writes p0's row and is held before it commits.
      await store.appendToStream(`race-${p0}`, [like(p0, 'gate-0')]);
      const held = await gates[0]!.entered;
      // Partition 1 commits, is caught up and switches: its drain reaches partition 0.
      gates[1]!.open();
      await eventually(async () => {
        const waiting = await store.withTransaction((tx) =>
          tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, [held]),
        );
        expect(waiting[0]!.n).toBeGreaterThan(0);
      });
      gates[0]!.open();
      await waitUntilLive(name);
    } finally {
      for (const g of gates) g.open();
      await worker.stop();
    }
    expect(await counts(name, [p0, p1])).toEqual({ [p0]: 3, [p1]: 1 });
  });

  it('a batch that read its status before a switch leaves the switched generation to the appenders', async () => {
    // Partition 0 is at the head of the log when its next batch reads its status
    // ('building') and is then held before it reads the log. Partition 1 catches up and
    // switches; its drain finds nothing beyond partition 0's checkpoint, so that
    // checkpoint (the batch's fence) does not move. An appender then applies a new like
    // inline to the switched generation. The held batch, let go, reads that like: it must
    // not apply it again.
    const name = 'inline_stale';
    const [p0, p1] = [postInPartition('stale', 0), postInPartition('stale', 1)];
    let releaseHandler!: () => void;
    const handlerHeld = new Promise<void>((resolve) => (releaseHandler = resolve));
    let handlerEntered!: () => void;
    const inHandler = new Promise<void>((resolve) => (handlerEntered = resolve));
    let heldOnce = false;
    const projection = likeCountsProjection({
      name,
      partitions: 2,
      categories: ['stale'],
      hold: async (stage, event) => {
        if (stage !== 'before' || event.data.userId !== 'gate-1' || heldOnce) return;
        heldOnce = true;
        handlerEntered();
        await handlerHeld;
      },
    });
    // The worker's store holds the next readAll once armed: by then partition 1 is held in
    // its handler, so that read is partition 0's.
    let armed = false;
    let releaseRead!: () => void;
    const readHeld = new Promise<void>((resolve) => (releaseRead = resolve));
    let readEntered!: () => void;
    const inRead = new Promise<void>((resolve) => (readEntered = resolve));
    const holdingStore = new Proxy(store, {
      get(target, property) {
        if (property === 'withTransaction') {
          return <T>(work: (tx: EventStoreTransaction) => Promise<T>) =>
            target.withTransaction((tx) =>
              work(
                new Proxy(tx, {
                  get(txTarget, txProperty) {
                    const value: unknown = Reflect.get(txTarget, txProperty);
                    if (txProperty === 'readAll' && armed) {
                      armed = false;
                      return async (...args: unknown[]) => {
                        readEntered();
                        await readHeld;
                        return (value as (...a: unknown[]) => unknown).apply(txTarget, args);
                      };
                    }
                    return typeof value === 'function' ? value.bind(txTarget) : value;
                  },
                }),
              ),
            );
        }
        const value: unknown = Reflect.get(target, property);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    await store.appendToStream(`stale-${p0}`, [like(p0), like(p0)]);
    await store.appendToStream(`stale-${p1}`, [like(p1, 'gate-1')]);
    const inlineStore = withInlineProjections(store, [projection]);
    const worker = runProjections(holdingStore, [projection], { inline: [name], pollIntervalMs: 20 });
    try {
      await inHandler;
      await waitUntilCaughtUp(name, 0);
      armed = true;
      await inRead;
      releaseHandler();
      await waitUntilLive(name);
      await inlineStore.appendToStream(`stale-${p0}`, [like(p0)]);
      expect(await counts(name, [p0])).toEqual({ [p0]: 3 });
      releaseRead();
      // Give the held batch time to commit what it would apply.
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      releaseHandler();
      releaseRead();
      await worker.stop();
    }
    expect(await counts(name, [p0, p1])).toEqual({ [p0]: 3, [p1]: 1 });
  });
});
