import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { catchUpProjections, setupProjection, type AnyProjection } from '../../src/index.js';
import { readModel, type ReadContext } from '../../src/graphql/read-model.js';
import { likeCounts } from '../../projections/like-counts/like-counts.projection.js';
import { createTestStore } from '../setup/database.js';

// readModel(...).prepare: a read compiled once per read schema, run with each call's
// parameters. Two stores (two schemas) share the prepared read, as one service serving
// both would: each must get its own rows.

interface LikeCountsTables {
  like_counts: { post_id: string; likes: number };
}

const like = (postId: string, userId: string) => ({ type: 'LikeCreated', schemaVersion: 2, data: { postId, userId, source: 'web' } });

async function storeWithLikes(prefix: string, likes: Record<string, number>) {
  const store = await createTestStore(prefix);
  await setupProjection(store, likeCounts);
  for (const [post, count] of Object.entries(likes)) {
    await store.appendToStream(`post-${post}`, Array.from({ length: count }, (_, n) => like(post, `u${n}`)));
  }
  await catchUpProjections(store, [likeCounts]);
  return store;
}

const first = await storeWithLikes('prepared_reads_a', { p1: 1, p2: 2, p3: 3 });
const second = await storeWithLikes('prepared_reads_b', { p1: 10, p4: 4 });

const readLikeCounts = readModel<LikeCountsTables>(likeCounts);
const atLeast = readLikeCounts.prepare((db, ids: readonly string[], least: number) =>
  db
    .selectFrom('like_counts')
    .select(['post_id', 'likes'])
    .where('post_id', '=', sql<string>`any(${ids}::text[])`)
    .where('likes', '>=', least)
    // A constant of the query, among the parameters: it stays.
    .where('post_id', '<>', 'nobody')
    .orderBy('post_id'),
);

describe('prepared reads', () => {
  it('run with each call\'s parameters, on each store\'s own read model', async () => {
    expect(await atLeast({ store: first }, ['p1', 'p2', 'p3'], 2)).toEqual([
      { post_id: 'p2', likes: 2 },
      { post_id: 'p3', likes: 3 },
    ]);
    expect(await atLeast({ store: second }, ['p1', 'p2', 'p4'], 1)).toEqual([
      { post_id: 'p1', likes: 10 },
      { post_id: 'p4', likes: 4 },
    ]);
    expect(await atLeast({ store: first }, ['p1'], 0)).toEqual([{ post_id: 'p1', likes: 1 }]);
    expect(await atLeast({ store: first }, [], 0)).toEqual([]);
  });

  it('wait for read your writes first, like every read', async () => {
    const waited: AnyProjection[][] = [];
    const context: ReadContext = { store: first, readYourWrites: async (projections) => void waited.push([...projections]) };
    await atLeast(context, ['p1'], 0);
    expect(waited).toEqual([[likeCounts]]);
  });

  it('refuse, the first time, a parameter that does not reach the SQL as a value', async () => {
    const ignored = readLikeCounts.prepare((db, _ids: readonly string[]) => db.selectFrom('like_counts').selectAll());
    await expect(ignored({ store: first }, ['p1'])).rejects.toThrow(/parameter 1 did not reach the SQL as a value/);
    const computed = readLikeCounts.prepare((db, ids: readonly string[], least: number) =>
      db.selectFrom('like_counts').selectAll().where('post_id', '=', sql<string>`any(${ids}::text[])`).where('likes', '>=', Number(least) + 1),
    );
    await expect(computed({ store: first }, ['p1'], 1)).rejects.toThrow(/parameter 2 did not reach the SQL as a value/);
  });
});
