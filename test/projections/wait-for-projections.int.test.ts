import { randomUUID } from 'node:crypto';
import {
  catchUpProjections,
  createEventStore,
  partitionOfKey,
  readSchemaOf,
  runProjections,
  startRebuild,
  ValidationError,
  withInlineProjections,
  type EventStore,
  type ProjectionRunner,
} from 'annals';
import { describe, expect, it, onTestFinished } from 'vitest';
import { positionWatchOf } from '../../src/consumers/position-watch.js';
import {
  ConsistencyDeadLetteredError,
  ConsistencyRebuildingError,
  ConsistencyStoppedError,
  ConsistencyTimeoutError,
} from '../../src/errors/consistency-errors.js';
import { waitForProjections } from '../../src/projections/wait-for-projections.js';
import { createTestStore, testDatabaseUrl } from '../setup/database.js';
import { likeCountsProjection } from './support/like-counts.js';

const store: EventStore = await createTestStore('wait_for_projections');

const like = (postId: string) => ({ type: 'LikeCreated', data: { postId, userId: randomUUID() }, schemaVersion: 2 });
const unique = (prefix: string) => `${prefix}_${randomUUID().slice(0, 8)}`;

/** A post whose stream (`post-<id>`) falls in `partition` of `partitions`. */
function postIn(partition: number, partitions: number): string {
  for (;;) {
    const id = randomUUID().slice(0, 8);
    if (partitionOfKey(`post-${id}`, partitions) === partition) return id;
  }
}

async function likesOf(projection: ReturnType<typeof likeCountsProjection>, post: string): Promise<number> {
  const rows = await store.withTransaction((tx) =>
    tx.query<{ likes: number }>(`SELECT likes FROM "${readSchemaOf(store.schema, projection)}".like_counts WHERE post_id = $1`, [post]),
  );
  return rows[0]?.likes ?? 0;
}

function run(projections: Parameters<typeof runProjections>[1], options: Parameters<typeof runProjections>[2] = {}): ProjectionRunner {
  const runner = runProjections(store, projections, options);
  onTestFinished(() => runner.stop());
  return runner;
}

/**
 * What `promise` rejected with, or undefined. "At once" is shown by the error's type, not
 * by a clock: the waits below are long, so a wait that ran out would be a
 * ConsistencyTimeoutError instead.
 */
async function settled(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('waitForProjections', () => {
  it('resolves once a worker has processed the position, with the write in the read model', async () => {
    const projection = likeCountsProjection({ name: unique('reached') });
    const runner = run([projection]);
    await runner.ready;
    const post = randomUUID();
    const { lastGlobalPosition } = await store.appendToStream(`post-${post}`, [like(post), like(post)]);
    await waitForProjections(store, [projection], lastGlobalPosition, { timeoutMs: 30_000 });
    expect(await likesOf(projection, post)).toBe(2);
  });

  it('resolves at once for a position with no event of the projection, with no worker running', async () => {
    const projection = likeCountsProjection({ name: unique('unrelated'), partitions: 3 });
    await catchUpProjections(store, [projection]); // set up; no worker from here on
    const { lastGlobalPosition } = await store.appendToStream(`order-${randomUUID()}`, [{ type: 'OrderPlaced', data: {} }]);
    const error = await settled(waitForProjections(store, [projection], lastGlobalPosition, { timeoutMs: 20_000 }));
    expect(error).toBeUndefined();
  });

  it('counts a partition behind the position as done when none of its events lies up to it', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const heldPost = postIn(0, 2);
    const projection = likeCountsProjection({
      name: unique('partitions'),
      partitions: 2,
      hold: async (stage, event) => {
        if (stage === 'before' && event.data.postId === heldPost) await released;
      },
    });
    await catchUpProjections(store, [projection]);
    const post = postIn(1, 2);
    // Partition 1's like first, then partition 0's, whose batch is held: partition 0's
    // checkpoint stays below both, and only its own like lies between them.
    const { lastGlobalPosition: mine } = await store.appendToStream(`post-${post}`, [like(post)]);
    await store.appendToStream(`post-${heldPost}`, [like(heldPost)]);
    run([projection]);
    // Registered after the runner's stop, so run before it: stop() waits for the held batch.
    onTestFinished(() => release());
    await waitForProjections(store, [projection], mine, { timeoutMs: 30_000 });
    expect(await likesOf(projection, post)).toBe(1);
    expect(await likesOf(projection, heldPost)).toBe(0);
  });

  it('times out with ConsistencyTimeoutError naming where each partition stands', async () => {
    const projection = likeCountsProjection({ name: unique('timeout') });
    await catchUpProjections(store, [projection]);
    const post = randomUUID();
    const { lastGlobalPosition } = await store.appendToStream(`post-${post}`, [like(post)]);
    const error = await waitForProjections(store, [projection], lastGlobalPosition, { timeoutMs: 500 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConsistencyTimeoutError);
    expect(error).toMatchObject({ code: 'ANNALS_CONSISTENCY_TIMEOUT', projections: [projection.name], position: lastGlobalPosition, timeoutMs: 500 });
    expect((error as Error).message).toMatch(new RegExp(`${projection.name} partition 0 at \\d+`));
  });

  it('answers at once with ConsistencyDeadLetteredError when an event of the write is dead-lettered', async () => {
    const post = randomUUID();
    const projection = likeCountsProjection({ name: unique('dead'), failOn: (id) => id === post });
    const runner = run([projection], { retries: { attempts: 2, minDelayMs: 10, maxDelayMs: 20 } });
    await runner.ready;
    const { lastGlobalPosition } = await store.appendToStream(`post-${post}`, [like(post)]);
    const error = await settled(waitForProjections(store, [projection], lastGlobalPosition, { timeoutMs: 45_000 }));
    expect(error).toBeInstanceOf(ConsistencyDeadLetteredError);
    expect(error).toMatchObject({
      code: 'ANNALS_CONSISTENCY_DEAD_LETTERED',
      projection: projection.name,
      position: lastGlobalPosition,
      event: { globalPosition: lastGlobalPosition, eventType: 'LikeCreated', streamId: `post-${post}` },
    });
    expect((error as Error).message).toContain(`refusing post ${post}`);
    // A later write of the same projection, not dead-lettered, is reached.
    const other = randomUUID();
    const later = await store.appendToStream(`post-${other}`, [like(other)]);
    await waitForProjections(store, [projection], later.lastGlobalPosition, { timeoutMs: 30_000 });
  });

  it('answers at once with ConsistencyStoppedError when a partition stopped before the position', async () => {
    const post = randomUUID();
    const projection = likeCountsProjection({ name: unique('stopped'), failOn: (id) => id === post });
    const runner = run([projection], { onFailure: 'stop', retries: { attempts: 2, minDelayMs: 10, maxDelayMs: 20 } });
    await runner.ready;
    const { lastGlobalPosition } = await store.appendToStream(`post-${post}`, [like(post)]);
    const error = await settled(waitForProjections(store, [projection], lastGlobalPosition, { timeoutMs: 45_000 }));
    expect(error).toBeInstanceOf(ConsistencyStoppedError);
    expect(error).toMatchObject({ code: 'ANNALS_CONSISTENCY_STOPPED', projection: projection.name, partition: 0, position: lastGlobalPosition });
    expect((error as ConsistencyStoppedError).reason).toContain(`refusing post ${post}`);
  });

  it('answers at once with ConsistencyRebuildingError when only a rebuild would reach the position', async () => {
    const name = unique('rebuilding');
    const v1 = likeCountsProjection({ name });
    const v2 = likeCountsProjection({ name, version: 2 });
    await catchUpProjections(store, [v1]); // live at version 1; its workers then stop
    const rebuild = await startRebuild(store, v2); // building, no worker of either version runs
    const post = randomUUID();
    const { lastGlobalPosition } = await store.appendToStream(`post-${post}`, [like(post)]);
    const error = await settled(waitForProjections(store, [v2], lastGlobalPosition, { timeoutMs: 45_000 }));
    expect(error).toBeInstanceOf(ConsistencyRebuildingError);
    expect(error).toMatchObject({ code: 'ANNALS_CONSISTENCY_REBUILDING', projection: name, generation: rebuild.generation, version: 2 });

    // With a worker of the live version running, the live generation gets there: no error.
    const runner = run([v1]);
    await runner.ready;
    await waitForProjections(store, [v1], lastGlobalPosition, { timeoutMs: 30_000 });
    expect(await likesOf(v1, post)).toBe(1);
  });

  it('lets many callers wait at once on one LISTEN connection', async () => {
    // A store of its own, its connections named: a watch of its own, and its LISTEN
    // connections counted alone.
    const application = unique('annals-wait');
    const url = new URL(testDatabaseUrl);
    url.searchParams.set('application_name', application);
    const own = createEventStore({ connectionString: url.toString(), maxConnections: 5 }, { schema: store.schema });
    onTestFinished(() => own.close());
    const projection = likeCountsProjection({ name: unique('shared') });
    await catchUpProjections(own, [projection]);
    const listening = async () => {
      const [row] = await store.withTransaction((tx) =>
        tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN %'`, [application]),
      );
      return row!.n;
    };
    // catchUpProjections' runner listened, and closed its connection when it stopped.
    await expect.poll(listening, { timeout: 20_000 }).toBe(0);
    const posts = Array.from({ length: 40 }, () => randomUUID());
    const writes = await Promise.all(posts.map((post) => own.appendToStream(`post-${post}`, [like(post)])));
    const waits = writes.map(({ lastGlobalPosition }) => waitForProjections(own, [projection], lastGlobalPosition, { timeoutMs: 60_000 }));
    const watch = positionWatchOf(own);
    await expect.poll(() => watch.listening, { timeout: 20_000 }).toBe(true);
    expect(watch.waiting).toBe(40);
    expect(await listening()).toBe(1);
    const runner = runProjections(own, [projection]);
    onTestFinished(() => runner.stop());
    await Promise.all(waits);
    for (const post of posts.slice(0, 5)) expect(await likesOf(projection, post)).toBe(1);
    expect(watch.waiting).toBe(0);
  });

  it('takes an inline projection as there once its live generation owes nothing up to the position', async () => {
    const projection = likeCountsProjection({ name: unique('inline') });
    await catchUpProjections(store, [projection], { inline: [projection.name] }); // its first generation, built and live
    const post = randomUUID();
    const { lastGlobalPosition } = await withInlineProjections(store, [projection]).appendToStream(`post-${post}`, [like(post)]);
    // No worker runs: the append applied it.
    await waitForProjections(store, [projection], lastGlobalPosition, { timeoutMs: 20_000, inline: [projection.name] });
    expect(await likesOf(projection, post)).toBe(1);
  });

  it('rejects with the reason when its signal aborts', async () => {
    const projection = likeCountsProjection({ name: unique('abort') });
    await catchUpProjections(store, [projection]);
    const post = randomUUID();
    const { lastGlobalPosition } = await store.appendToStream(`post-${post}`, [like(post)]);
    const controller = new AbortController();
    const waiting = waitForProjections(store, [projection], lastGlobalPosition, { timeoutMs: 30_000, signal: controller.signal });
    const reason = new Error('the client went away');
    setTimeout(() => controller.abort(reason), 100);
    await expect(waiting).rejects.toBe(reason);
  });

  it('refuses a position that is not a global position', async () => {
    const projection = likeCountsProjection({ name: unique('invalid') });
    const error = await waitForProjections(store, [projection], -1n).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ field: 'position' });
    const options = await waitForProjections(store, [projection], 1n, { timeoutMs: 0 }).catch((e: unknown) => e);
    expect(options).toMatchObject({ field: 'options.timeoutMs' });
  });
});

describe('waitForProjections on PGlite', () => {
  it('waits on the in-process notifications as on Postgres', async () => {
    const embedded = createEventStore({ pglite: 'memory://' });
    onTestFinished(() => embedded.close());
    await embedded.migrate();
    const projection = likeCountsProjection({ name: 'embedded' });
    const runner = runProjections(embedded, [projection], { pollIntervalMs: 60_000 });
    onTestFinished(() => runner.stop());
    await runner.ready;
    for (let count = 1; count <= 3; count++) {
      const { lastGlobalPosition } = await embedded.appendToStream('post-e', [like('e')]);
      await waitForProjections(embedded, [projection], lastGlobalPosition, { timeoutMs: 30_000 });
      const rows = await embedded.withTransaction((tx) =>
        tx.query<{ likes: number }>(`SELECT likes FROM "${readSchemaOf(embedded.schema, projection)}".like_counts WHERE post_id = 'e'`),
      );
      expect(rows[0]?.likes).toBe(count);
    }
  });
});

describe('waitForProjections under load', () => {
  it('lets every one of many concurrent writers read its own write', async () => {
    const projection = likeCountsProjection({ name: unique('load'), partitions: 4 });
    const runners = [run([projection]), run([projection])];
    await Promise.all(runners.map((runner) => runner.ready));
    const writers = 120;
    const seen = await Promise.all(
      Array.from({ length: writers }, async (_, index) => {
        const post = `p${index % 30}-${randomUUID().slice(0, 4)}`;
        // Each writer likes its post a few times, reading its own count after each like.
        let expected = 0;
        for (let round = 0; round < 3; round++) {
          const { lastGlobalPosition } = await store.appendToStream(`post-${post}`, [like(post)]);
          expected++;
          await waitForProjections(store, [projection], lastGlobalPosition, { timeoutMs: 60_000 });
          const likes = await likesOf(projection, post);
          if (likes < expected) return { post, likes, expected };
        }
        return undefined;
      }),
    );
    expect(seen.filter(Boolean)).toEqual([]);
  });
});
