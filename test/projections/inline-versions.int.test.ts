import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { catchUpProjections, defineProjection, listDeadLetters, readSchemaOf, withInlineProjections, type EventStore } from 'annals';
import { describe, expect, it } from 'vitest';
import { likeEvents } from '../../domain/likes/likes.events.js';
import { applyPendingInline } from '../../src/projections/inline-sweep.js';
import { createTestStore } from '../setup/database.js';

// Issue 10, part 1: an inline append applies a projection only when the appending code's
// version is the live generation's. Code of another version (a rolling deploy, a
// rollback) records what the live generation still owes, and code of the live version
// applies it: the next append to the stream, or the workers' sweep (applyPendingInline).

const store: EventStore = await createTestStore('inline_versions');

const like = (postId: string, userId: string = randomUUID()) => ({ type: 'LikeCreated', data: { postId, userId }, schemaVersion: 2 });

/**
 * One projection in three versions: 2 adds a column to its table, 3 counts a like ten
 * times (another meaning, same table).
 */
function versioned(
  name: string,
  version: 1 | 2 | 3,
  options: { onApply?: (streamId: string, version: number) => void; failOn?: string; likesOnly?: boolean } = {},
) {
  return defineProjection({
    name,
    version,
    // likesOnly: an older version that did not count removals yet.
    events: (options.likesOnly ? { LikeCreated: likeEvents.LikeCreated } : likeEvents) as typeof likeEvents,
    categories: [name],
    schema: async (db) => {
      const table = db.schema
        .createTable('like_counts')
        .addColumn('post_id', 'text', (c) => c.primaryKey())
        .addColumn('likes', 'integer', (c) => c.notNull());
      await (version === 2 ? table.addColumn('last_user', 'text') : table).execute();
    },
    apply: async (event, { db }) => {
      options.onApply?.(event.streamId, event.version);
      if (event.data.postId === options.failOn) throw new Error(`refusing post ${event.data.postId}`);
      const delta = (event.type === 'LikeCreated' ? 1 : -1) * (version === 3 ? 10 : 1);
      const row = { post_id: event.data.postId, likes: delta, ...(version === 2 ? { last_user: event.data.userId } : {}) };
      await db
        .insertInto('like_counts')
        .values(row)
        .onConflict((oc) =>
          oc.column('post_id').doUpdateSet({ likes: sql`like_counts.likes + ${delta}`, ...(version === 2 ? { last_user: event.data.userId } : {}) }),
        )
        .execute();
    },
  });
}

async function counts(name: string): Promise<Record<string, number>> {
  const schema = readSchemaOf(store.schema, versioned(name, 1));
  const rows = await store.withTransaction((tx) => tx.query<{ post_id: string; likes: number }>(`SELECT post_id, likes FROM "${schema}".like_counts`));
  return Object.fromEntries(rows.map((row) => [row.post_id, row.likes]));
}

async function liveVersion(name: string): Promise<number | undefined> {
  const [row] = await store.withTransaction((tx) =>
    tx.query<{ version: number }>(`SELECT version FROM "${store.schema}".projection_generations WHERE projection = $1 AND status = 'live'`, [name]),
  );
  return row?.version;
}

/** Makes a generation of `projection` live (the log has other tests' events: a worker builds it). */
async function deploy(projection: ReturnType<typeof versioned>): Promise<void> {
  await catchUpProjections(store, [projection], { inline: [projection.name] });
  expect(await liveVersion(projection.name)).toBe(projection.version);
}

describe('inline projections across versions', () => {
  it('an append through newer code whose schema differs neither fails nor writes into the live tables; the live code applies it', async () => {
    const name = 'vschema';
    const v1 = versioned(name, 1);
    const v2 = versioned(name, 2);
    await deploy(v1);
    const oldCode = withInlineProjections(store, [v1]);
    const newCode = withInlineProjections(store, [v2]);
    await oldCode.appendToStream(`${name}-a`, [like('a'), like('a')]);
    expect(await counts(name)).toEqual({ a: 2 });

    // Writes must go on during the rollout: the v2 tables (with last_user) are not live yet.
    await newCode.appendToStream(`${name}-a`, [like('a')]);
    expect(await counts(name)).toEqual({ a: 2 });
    expect(await applyPendingInline(store, v2)).toBe(0);
    expect(await applyPendingInline(store, v1)).toBe(1);
    expect(await counts(name)).toEqual({ a: 3 });

    // The next append of the live code to the stream applies what it owes first.
    await newCode.appendToStream(`${name}-a`, [like('a')]);
    await oldCode.appendToStream(`${name}-a`, [like('a')]);
    expect(await counts(name)).toEqual({ a: 5 });
    expect(await applyPendingInline(store, v1)).toBe(0);

    await deploy(v2);
    expect(await counts(name)).toEqual({ a: 5 });
  });

  it('an append through newer code before its rebuild switched is not written with its meaning into the live tables', async () => {
    const name = 'vmeaning';
    const v1 = versioned(name, 1);
    const v3 = versioned(name, 3);
    await deploy(v1);
    await withInlineProjections(store, [v1]).appendToStream(`${name}-b`, [like('b')]);
    await withInlineProjections(store, [v3]).appendToStream(`${name}-b`, [like('b')]);
    expect(await counts(name)).toEqual({ b: 1 });
    expect(await applyPendingInline(store, v1)).toBe(1);
    expect(await counts(name)).toEqual({ b: 2 });
    await deploy(v3);
    expect(await counts(name)).toEqual({ b: 20 });
  });

  it('after the switch, an append through the old code is applied by the new code, never with the old meaning', async () => {
    const name = 'vrollback';
    const v1 = versioned(name, 1);
    const v3 = versioned(name, 3);
    await deploy(v1);
    const oldCode = withInlineProjections(store, [v1]);
    const newCode = withInlineProjections(store, [v3]);
    await oldCode.appendToStream(`${name}-b`, [like('b')]);
    await deploy(v3);
    expect(await counts(name)).toEqual({ b: 10 });

    // Old code still running during the rollout (or rolled back to).
    await oldCode.appendToStream(`${name}-b`, [like('b')]);
    expect(await counts(name)).toEqual({ b: 10 });
    expect(await applyPendingInline(store, v1)).toBe(0);
    expect(await applyPendingInline(store, v3)).toBe(1);
    expect(await counts(name)).toEqual({ b: 20 });

    await oldCode.appendToStream(`${name}-b`, [like('b')]);
    await newCode.appendToStream(`${name}-b`, [like('b')]);
    expect(await counts(name)).toEqual({ b: 40 });
  });

  it('old and new code appending side by side with sweeps: every event applied once by the live code, each stream in order', async () => {
    const name = 'vorder';
    const applied = new Map<string, number[]>();
    // Rolled-back transactions (a lost log-order race, retried) also call onApply: only
    // what the table shows at the end counts, so the table records the order too.
    const v1 = defineProjection({
      ...versioned(name, 1).definition,
      schema: async (db) => {
        await versioned(name, 1).definition.schema(db);
        await db.schema
          .createTable('applied')
          .addColumn('seq', 'serial', (c) => c.primaryKey())
          .addColumn('stream_id', 'text', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .execute();
      },
      apply: async (event, context) => {
        await versioned(name, 1).definition.apply!(event, context);
        await context.db.insertInto('applied').values({ stream_id: event.streamId, version: event.version }).execute();
      },
    });
    const v2 = versioned(name, 2, { onApply: (streamId, version) => applied.set(streamId, [...(applied.get(streamId) ?? []), version]) });
    await deploy(v1);
    const oldCode = withInlineProjections(store, [v1]);
    const newCode = withInlineProjections(store, [v2]);
    const posts = ['p', 'q', 'r'];
    let writing = true;
    const writers = Array.from({ length: 6 }, async (_, w) => {
      for (let i = 0; i < 25; i++) {
        const postId = posts[(w + i) % posts.length]!;
        await (w % 2 === 0 ? oldCode : newCode).appendToStream(`${name}-${postId}`, [like(postId)]);
      }
    });
    const sweepers = Array.from({ length: 2 }, async () => {
      while (writing) {
        await applyPendingInline(store, v1);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    });
    try {
      await Promise.all(writers);
    } finally {
      writing = false;
      await Promise.all(sweepers);
    }
    await applyPendingInline(store, v1);

    // v2 code never applied anything: its generation is not live.
    expect(applied.size).toBe(0);
    expect(await counts(name)).toEqual({ p: 50, q: 50, r: 50 });
    const schema = readSchemaOf(store.schema, v1);
    const rows = await store.withTransaction((tx) => tx.query<{ stream_id: string; version: number }>(`SELECT stream_id, version FROM "${schema}".applied ORDER BY seq`));
    for (const postId of posts) {
      const versions = rows.filter((row) => row.stream_id === `${name}-${postId}`).map((row) => row.version);
      expect(versions).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    }
  });

  it('an owed event the live code cannot read is dead-lettered: neither its appenders nor the sweep fail on it', async () => {
    const name = 'vunreadable';
    const v1 = versioned(name, 1);
    await deploy(v1);
    const oldCode = withInlineProjections(store, [v1]);
    const newCode = withInlineProjections(store, [versioned(name, 2)]);
    // A schema version the v1 code does not know, as newer code may write.
    await newCode.appendToStream(`${name}-c`, [{ type: 'LikeCreated', data: { postId: 'c', userId: 'u' }, schemaVersion: 3 }]);
    await newCode.appendToStream(`${name}-d`, [{ type: 'LikeCreated', data: { postId: 'd', userId: 'u' }, schemaVersion: 3 }, like('d')]);
    await oldCode.appendToStream(`${name}-c`, [like('c')]);
    expect(await applyPendingInline(store, v1)).toBe(2);
    expect(await counts(name)).toEqual({ c: 1, d: 1 });
    const dead = await listDeadLetters(store, { projection: name });
    expect(dead.map((d) => d.streamId).sort()).toEqual([`${name}-c`, `${name}-d`]);
    expect(dead[0]!.error).toMatch(/schema version 3 is newer/);
  });

  it('a sweep applies every stream but one whose handler fails, which stays owed, and then throws its error', async () => {
    const name = 'vfailing';
    const v1 = versioned(name, 1, { failOn: 'bad' });
    await deploy(v1);
    const newCode = withInlineProjections(store, [versioned(name, 2)]);
    await newCode.appendToStream(`${name}-good`, [like('good')]);
    await newCode.appendToStream(`${name}-bad`, [like('bad')]);
    await newCode.appendToStream(`${name}-fine`, [like('fine')]);
    await expect(applyPendingInline(store, v1)).rejects.toThrow('refusing post bad');
    expect(await counts(name)).toEqual({ good: 1, fine: 1 });
    const owed = await store.withTransaction((tx) =>
      tx.query<{ stream_id: string }>(`SELECT stream_id FROM "${store.schema}".projection_inline_pending WHERE projection = $1`, [name]),
    );
    expect(owed).toEqual([{ stream_id: `${name}-bad` }]);
  });

  it('code of another version records what the live generation owes by the types of the live version, also types it does not handle itself', async () => {
    const name = 'vtypes';
    // Version 2 adds a type: it counts removals too; version 1 handles likes only.
    const v1 = versioned(name, 1, { likesOnly: true });
    const v2Full = versioned(name, 3);
    await deploy(v1);
    await withInlineProjections(store, [v1]).appendToStream(`${name}-a`, [like('a'), like('a')]);
    await deploy(v2Full);
    expect(await counts(name)).toEqual({ a: 20 });
    // Old code still serving requests after the switch appends a removal it does not handle.
    const oldCode = withInlineProjections(store, [v1]);
    await oldCode.appendToStream(`${name}-a`, [{ type: 'LikeRemoved', data: { postId: 'a', userId: 'u' } }]);
    await oldCode.appendToStream(`${name}-a`, [like('a')]);
    expect(await applyPendingInline(store, v2Full)).toBe(2);
    // Version 3 counts ten per like: 20 from the rebuild, -10 + 10 owed by the old code's appends.
    expect(await counts(name)).toEqual({ a: 20 });
    // And the other way: newer code appends a type only it handles while the older one is
    // live: the live generation owes nothing of it (it never handles removals).
    const later = 'vtypes2';
    const w1 = versioned(later, 1, { likesOnly: true });
    const w2 = versioned(later, 3);
    await deploy(w1);
    await withInlineProjections(store, [w2]).appendToStream(`${later}-b`, [{ type: 'LikeRemoved', data: { postId: 'b', userId: 'u' } }, like('b')]);
    const owed = await store.withTransaction((tx) =>
      tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${store.schema}".projection_inline_pending WHERE projection = $1`, [later]),
    );
    expect(owed).toEqual([{ n: 1 }]);
  });
});
