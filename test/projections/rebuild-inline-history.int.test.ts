import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { catchUpProjections, defineProjection, withInlineProjections, type EventStore, type ProjectedEvent, type ProjectionContext } from 'annals';
import { beforeAll, describe, expect, it } from 'vitest';
import { likeEvents } from '../../domain/likes/likes.events.js';
import { likeCounts } from '../../projections/like-counts/like-counts.projection.js';
import { applyPendingInline } from '../../src/projections/inline-sweep.js';
import { createTestStore } from '../setup/database.js';

// Issue 10, part 2: rebuilding an inline projection must not run its history again as
// fresh events. Everything the live generation applied (inline, or from what it owed)
// is history for the rebuild; what it never applied (owed when the switch retires it) is
// fresh, once, in the new generation.

const store: EventStore = await createTestStore('rebuild_inline_history');

const like = (postId: string) => ({ type: 'LikeCreated', data: { postId, userId: randomUUID() }, schemaVersion: 2 });

/** Every application that committed, by the version of the code that made it. */
const sent = `"${store.schema}".sent_notifications`;

beforeAll(async () => {
  await store.withTransaction((tx) =>
    tx.query(`CREATE TABLE ${sent} (projection text, version int, global_position bigint, replaying boolean, via text)`),
  );
});

/**
 * A projection with a side effect: each event it sees is written to a table outside its
 * generation, in the same transaction (so only applications that committed count), with
 * the version of the code and `replaying`.
 */
function notifications(name: string, version: number) {
  type LikeEvent = ProjectedEvent<typeof likeEvents>;
  const record = async (events: LikeEvent[], context: ProjectionContext, via: string) => {
    for (const event of events) {
      await context.query(`INSERT INTO ${sent} VALUES ($1, $2, $3, $4, $5)`, [name, version, event.globalPosition.toString(), context.replaying, via]);
      await context.db
        .insertInto('like_counts')
        .values({ post_id: event.data.postId, likes: 1 })
        .onConflict((oc) => oc.column('post_id').doUpdateSet({ likes: sql`like_counts.likes + 1` }))
        .execute();
    }
  };
  return defineProjection({
    name,
    version,
    events: { LikeCreated: likeEvents.LikeCreated },
    categories: [name],
    // The example projection's table.
    schema: likeCounts.definition.schema,
    apply: (event, context) => record([event], context, 'apply'),
    replayBatch: (events, context) => record(events, context, 'replayBatch'),
  });
}

async function applications(name: string): Promise<{ version: number; position: bigint; replaying: boolean; via: string }[]> {
  const rows = await store.withTransaction((tx) =>
    tx.query<{ version: number; global_position: string; replaying: boolean; via: string }>(
      `SELECT version, global_position::text AS global_position, replaying, via FROM ${sent} WHERE projection = $1`,
      [name],
    ),
  );
  return rows.map((row) => ({ version: row.version, position: BigInt(row.global_position), replaying: row.replaying, via: row.via }));
}

const fresh = (rows: Awaited<ReturnType<typeof applications>>, version: number) =>
  rows
    .filter((row) => row.version === version && !row.replaying)
    .map((row) => row.position)
    .sort((a, b) => (a < b ? -1 : 1));

async function append(code: EventStore, name: string, postId: string): Promise<bigint> {
  const result = await code.appendToStream(`${name}-${postId}`, [like(postId)]);
  return result.lastGlobalPosition;
}

async function pendingRows(name: string): Promise<number> {
  const [row] = await store.withTransaction((tx) =>
    tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${store.schema}".projection_inline_pending WHERE projection = $1`, [name]),
  );
  return row!.n;
}

describe('rebuilding an inline projection', () => {
  it('replays what the live generation applied inline as history, and applies appends after the switch as fresh once', async () => {
    const name = 'history';
    const v1 = notifications(name, 1);
    const v2 = notifications(name, 2);
    await catchUpProjections(store, [v1], { inline: [name] });
    const oldCode = withInlineProjections(store, [v1]);
    const before: bigint[] = [];
    for (let i = 0; i < 5; i++) before.push(await append(oldCode, name, `p${i % 2}`));
    expect(fresh(await applications(name), 1)).toEqual(before);

    await catchUpProjections(store, [v2], { inline: [name], replayBatchSize: 3 });
    const newCode = withInlineProjections(store, [v2]);
    const after: bigint[] = [];
    for (let i = 0; i < 3; i++) after.push(await append(newCode, name, `p${i % 2}`));

    const rows = await applications(name);
    expect(fresh(rows, 1)).toEqual(before);
    expect(fresh(rows, 2)).toEqual(after);
    // The history went through the replay fast path.
    expect(rows.filter((row) => row.version === 2 && row.replaying).every((row) => row.via === 'replayBatch')).toBe(true);
    expect(rows.filter((row) => row.version === 2 && row.replaying).map((row) => row.position).sort((a, b) => (a < b ? -1 : 1))).toEqual(before);
  });

  it('applies what new code appended during the rollout once: by the old code if it got to it, else by the rebuild as fresh', async () => {
    const name = 'rollout';
    const v1 = notifications(name, 1);
    const v2 = notifications(name, 2);
    await catchUpProjections(store, [v1], { inline: [name] });
    const oldCode = withInlineProjections(store, [v1]);
    const newCode = withInlineProjections(store, [v2]);

    const seenByOldCode = [await append(oldCode, name, 'a')];
    // Appended by the new code: the live (v1) generation owes it until v1 code applies it.
    seenByOldCode.push(await append(newCode, name, 'a'));
    expect(await applyPendingInline(store, v1)).toBe(1);
    // Owed when the switch retires the v1 generation: v1 code never saw it.
    const neverSeen = [await append(newCode, name, 'b')];
    expect(await pendingRows(name)).toBe(1);

    await catchUpProjections(store, [v2], { inline: [name] });
    expect(await pendingRows(name)).toBe(0);
    const after = [await append(newCode, name, 'b'), await append(oldCode, name, 'a')];
    // The old code's append after the switch is owed to v2 and applied by its code.
    expect(await applyPendingInline(store, v2)).toBe(1);

    const rows = await applications(name);
    expect(fresh(rows, 1)).toEqual(seenByOldCode);
    expect(fresh(rows, 2)).toEqual([...neverSeen, ...after]);
    // Every event reached the v2 tables exactly once.
    expect(rows.filter((row) => row.version === 2).length).toBe(5);
    expect(new Set(rows.filter((row) => row.version === 2).map((row) => row.position)).size).toBe(5);
  });

  it('built first over a log that has events: the log before it is history, appends during the build are fresh once', async () => {
    const name = 'first';
    const v1 = notifications(name, 1);
    const history = await append(store, name, 'a');
    const code = withInlineProjections(store, [v1]);
    // The first append sets the projection up: a build, since the log has events. No
    // generation is live, so no one applies this one inline: the build must, as fresh.
    const duringBuild = await append(code, name, 'a');
    await catchUpProjections(store, [v1], { inline: [name] });
    const afterSwitch = await append(code, name, 'a');
    const rows = await applications(name);
    expect(fresh(rows, 1)).toEqual([duringBuild, afterSwitch]);
    expect(rows.filter((row) => row.replaying).map((row) => row.position)).toEqual([history]);
  });
});
