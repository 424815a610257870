import { sql } from 'kysely';
import { defineProjection, type ProjectedEvent, type ProjectionContext } from 'annals';
import { likeEvents } from '../../domain/likes/likes.events.js';

type LikeEvent = ProjectedEvent<typeof likeEvents>;

interface Deltas {
  postIds: string[];
  deltas: number[];
}

/**
 * Net like change per post in a batch, in first-seen order. A post whose likes cancel out
 * keeps its 0: the read model has a row for every post ever liked.
 */
function deltasOf(events: readonly LikeEvent[]): Deltas {
  const byPost = new Map<string, number>();
  for (const event of events) {
    byPost.set(event.data.postId, (byPost.get(event.data.postId) ?? 0) + (event.type === 'LikeCreated' ? 1 : -1));
  }
  return { postIds: [...byPost.keys()], deltas: [...byPost.values()] };
}

/** Two bind parameters per row: Postgres takes at most 65,535 in one statement. */
const maxValuesRows = 32_767;

/** Live batches (500 events by default) touch a few hundred posts: one typed multi-row upsert. */
async function addByValues(db: ProjectionContext['db'], { postIds, deltas }: Deltas): Promise<void> {
  await db
    .insertInto('like_counts')
    .values(postIds.map((post_id, index) => ({ post_id, likes: deltas[index]! })))
    .onConflict((oc) => oc.column('post_id').doUpdateSet({ likes: sql`like_counts.likes + excluded.likes` }))
    .execute();
}

/**
 * Replay batches are large (5,000 events by default, up to 100,000): two array parameters
 * whatever the number of posts, so no bind-parameter limit, a statement text that never
 * changes, and two arrays to serialize instead of a value per cell. kysely's builder has
 * no `unnest` of parameter arrays, hence the fragment.
 */
async function addByUnnest(db: ProjectionContext['db'], { postIds, deltas }: Deltas): Promise<void> {
  await db
    .insertInto('like_counts')
    .columns(['post_id', 'likes'])
    .expression(sql`SELECT * FROM unnest(${postIds}::text[], ${deltas}::integer[])`)
    .onConflict((oc) => oc.column('post_id').doUpdateSet({ likes: sql`like_counts.likes + excluded.likes` }))
    .execute();
}

/**
 * Likes per post: `like_counts(post_id, likes)`, one row per post ever liked (0 once
 * every like is taken back). A batch is folded in memory into one delta per post and
 * written with one statement, so a batch costs one round trip however many events it has.
 *
 * @example
 * ```ts
 * await catchUpProjections(store, [likeCounts]);
 * const rows = await db.withSchema(readSchemaOf(store.schema, likeCounts)).selectFrom('like_counts').selectAll().execute();
 * ```
 */
export const likeCounts = defineProjection({
  name: 'like-counts',
  version: 1,
  events: likeEvents,
  categories: ['post'],
  schema: async (db) => {
    await db.schema
      .createTable('like_counts')
      .addColumn('post_id', 'text', (c) => c.primaryKey())
      .addColumn('likes', 'integer', (c) => c.notNull())
      .execute();
  },
  applyBatch: async (events, { db }) => {
    const deltas = deltasOf(events);
    await (deltas.postIds.length <= maxValuesRows ? addByValues(db, deltas) : addByUnnest(db, deltas));
  },
  replayBatch: (events, { db }) => addByUnnest(db, deltasOf(events)),
});
