import { randomUUID } from 'node:crypto';
import { partitionOfKey, readSchemaOf, runProjections, type EventStore } from 'annals';
import { describe, expect, it } from 'vitest';
import { createTestStore, eventually } from '../setup/database.js';
import { likeCountsProjection } from './support/like-counts.js';

// Issue 10, part 8a: with several partitions, the switch to a rebuilt generation must
// not move any key back. The live generation's partitions stand at different
// checkpoints, and a build partition's `caught_up` can be a poll old: a build partition
// may be behind the live partition of the same keys when another one triggers the switch.

const store: EventStore = await createTestStore('rebuild_switch_exact');

const name = 'exact';
const like = (postId: string, userId: string = randomUUID()) => ({ type: 'LikeCreated', data: { postId, userId }, schemaVersion: 2 });

/** A post whose stream `${name}-${postId}` hashes to `partition` of 2. */
function postInPartition(partition: number): string {
  for (;;) {
    const postId = randomUUID();
    if (partitionOfKey(`${name}-${postId}`, 2) === partition) return postId;
  }
}

/**
 * Holds the handler of the first batch that reaches a given like until opened; a switch's
 * drain, coming later, goes through.
 */
function gate(userId: string) {
  let open!: () => void;
  let enter!: (pid: number) => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const entered = new Promise<number>((resolve) => (enter = resolve));
  return { userId, used: false, open: () => open(), opened, entered, enter };
}

type Gate = ReturnType<typeof gate>;

function projection(version: number, gates: Gate[]) {
  return likeCountsProjection({
    name,
    version,
    partitions: 2,
    categories: [name],
    hold: async (stage, event, context) => {
      const held = gates.find((g) => g.userId === event.data.userId && !g.used);
      if (stage !== 'before' || !held) return;
      held.used = true;
      const [backend] = await context.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      held.enter(backend!.pid);
      await held.opened;
    },
  });
}

const readSchema = readSchemaOf(store.schema, likeCountsProjection({ name }));

async function counts(): Promise<Record<string, number>> {
  const rows = await store.withTransaction((tx) => tx.query<{ post_id: string; likes: number }>(`SELECT post_id, likes FROM "${readSchema}".like_counts`));
  return Object.fromEntries(rows.map((row) => [row.post_id, row.likes]));
}

async function partitions(version: number): Promise<{ partition: number; position: bigint; caught_up: boolean; status: string }[]> {
  const rows = await store.withTransaction((tx) =>
    tx.query<{ partition: number; position: string; caught_up: boolean; status: string }>(
      `SELECT p.partition, p.position::text AS position, p.caught_up, g.status
         FROM "${store.schema}".consumer_partitions p
         JOIN "${store.schema}".projection_generations g ON g.projection = p.consumer AND g.generation = p.generation
        WHERE p.consumer = $1 AND g.version = $2 ORDER BY p.partition`,
      [name, version],
    ),
  );
  return rows.map((row) => ({ ...row, position: BigInt(row.position) }));
}

/** Like counts from the log, each key up to its own partition's checkpoint. */
async function foldUpTo(checkpoints: readonly bigint[]): Promise<Record<string, number>> {
  const rows = await store.withTransaction((tx) =>
    tx.query<{ stream_id: string; post_id: string; global_position: string }>(
      `SELECT stream_id, data->>'postId' AS post_id, global_position::text AS global_position FROM "${store.schema}".events WHERE category = $1`,
      [name],
    ),
  );
  const folded: Record<string, number> = {};
  for (const row of rows) {
    if (BigInt(row.global_position) > checkpoints[partitionOfKey(row.stream_id, 2)]!) continue;
    folded[row.post_id] = (folded[row.post_id] ?? 0) + 1;
  }
  return folded;
}

async function isBlockedBy(pid: number): Promise<boolean> {
  const [row] = await store.withTransaction((tx) =>
    tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, [pid]),
  );
  return row!.n > 0;
}

describe('the switch to a rebuilt generation on several partitions', () => {
  it('moves no key back: every key shows at least what the live generation showed just before', async () => {
    const [k0, k1] = [postInPartition(0), postInPartition(1)];
    const liveHeld = gate('held-by-v1');
    const buildHeld0 = gate('held-by-v1');
    const buildHeld1 = gate('held-by-v2');
    const v1 = projection(1, [liveHeld]);
    const v2 = projection(2, [buildHeld0, buildHeld1]);
    await store.appendToStream(`${name}-${k0}`, [like(k0), like(k0)]);
    await store.appendToStream(`${name}-${k1}`, [like(k1), like(k1)]);
    const live = runProjections(store, [v1], { pollIntervalMs: 20 });
    let build: ReturnType<typeof runProjections> | undefined;
    try {
      await eventually(async () => expect(await counts()).toEqual({ [k0]: 2, [k1]: 2 }));
      // The live generation's partition 0 stops before this like.
      await store.appendToStream(`${name}-${k0}`, [like(k0, 'held-by-v1')]);
      await liveHeld.entered;

      // The build's partition 0 is held on the same like; its partition 1 catches up.
      build = runProjections(store, [v2], { pollIntervalMs: 20 });
      await buildHeld0.entered;
      await eventually(async () => expect((await partitions(2))[1]?.caught_up).toBe(true));

      // A like in partition 1: the live generation applies it, the build's batch holds on it
      // (its checkpoint stays before it, flagged caught up).
      const { lastGlobalPosition: e1 } = await store.appendToStream(`${name}-${k1}`, [like(k1, 'held-by-v2')]);
      await buildHeld1.entered;
      await eventually(async () => expect((await partitions(1))[1]!.position >= e1).toBe(true));
      const liveCheckpoints = (await partitions(1)).map((p) => p.position);
      const shown = await counts();
      expect(shown).toEqual(await foldUpTo(liveCheckpoints));
      expect(shown).toEqual({ [k0]: 2, [k1]: 3 });

      // The build's partition 0 commits, is caught up, and asks for the switch.
      buildHeld0.open();
      const pid1 = await buildHeld1.entered;
      await eventually(async () => {
        const switched = (await partitions(2))[0]?.status === 'live';
        expect(switched || (await isBlockedBy(pid1))).toBe(true);
      });
      // Switched without waiting for partition 1's batch, or waiting for it: either way
      // no key may show less than before.
      if ((await partitions(2))[0]?.status !== 'live') {
        buildHeld1.open();
        await eventually(async () => expect((await partitions(2))[0]?.status).toBe('live'));
      }
      const afterSwitch = await counts();
      for (const [postId, likes] of Object.entries(shown)) expect(afterSwitch[postId] ?? 0, postId).toBeGreaterThanOrEqual(likes);

      // And the rebuilt generation goes on in every partition.
      buildHeld1.open();
      liveHeld.open();
      await store.appendToStream(`${name}-${k0}`, [like(k0)]);
      await store.appendToStream(`${name}-${k1}`, [like(k1)]);
      await eventually(async () => expect(await counts()).toEqual({ [k0]: 4, [k1]: 4 }));
    } finally {
      for (const g of [liveHeld, buildHeld0, buildHeld1]) g.open();
      await build?.stop();
      await live.stop();
    }
  });

  it('with likes flowing and workers of both versions running, no reader ever sees a count go down', async () => {
    const flowing = 'flowing';
    const posts = Array.from({ length: 6 }, () => randomUUID());
    const v1 = likeCountsProjection({ name: flowing, partitions: 3, categories: [flowing] });
    const v2 = likeCountsProjection({ name: flowing, version: 2, partitions: 3, categories: [flowing] });
    const schema = readSchemaOf(store.schema, v1);
    const read = async () => {
      const rows = await store.withTransaction((tx) => tx.query<{ post_id: string; likes: number }>(`SELECT post_id, likes FROM "${schema}".like_counts`));
      return new Map(rows.map((row) => [row.post_id, row.likes]));
    };
    const live = runProjections(store, [v1], { pollIntervalMs: 10 });
    await live.ready;
    let build: ReturnType<typeof runProjections> | undefined;
    let writing = true;
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; writing; i++) {
        const postId = posts[(w + i) % posts.length]!;
        await store.appendToStream(`${flowing}-${postId}`, [like(postId)]);
        // A steady flow the workers can keep up with on a loaded machine: a build that
        // falls ever further behind its writers never catches up, and never switches.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
    const wentDown: string[] = [];
    let reading = true;
    const reader = (async () => {
      const seen = new Map<string, number>();
      while (reading) {
        for (const [postId, likes] of await read()) {
          if (likes < (seen.get(postId) ?? 0)) wentDown.push(`${postId}: ${seen.get(postId)} then ${likes}`);
          seen.set(postId, likes);
        }
      }
    })();
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      build = runProjections(store, [v2], { pollIntervalMs: 10, replayBatchSize: 50 });
      await eventually(async () => expect((await partitions2(flowing)).some((g) => g.version === 2 && g.status === 'live')).toBe(true), 45_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      writing = false;
      await Promise.all(writers);
      reading = false;
      await reader;
      await build?.stop();
      await live.stop();
    }
    expect(wentDown).toEqual([]);
  }, 90_000);
});

async function partitions2(projection: string): Promise<{ version: number; status: string }[]> {
  return store.withTransaction((tx) =>
    tx.query<{ version: number; status: string }>(`SELECT version, status FROM "${store.schema}".projection_generations WHERE projection = $1`, [projection]),
  );
}
