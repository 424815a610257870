import { sql } from 'kysely';
import { defineProjection } from 'annals';
import { likeEvents } from '../../domain/likes/likes.events.js';

const hourMs = 3_600_000;

/**
 * The UTC hour an event was recorded in. Computed here rather than with SQL's
 * `date_trunc('hour', …)`, which truncates in the session's time zone: in a zone half an
 * hour off UTC (India) it would bucket by the half hour of UTC.
 */
export function hourOf(recordedAt: Date): Date {
  return new Date(Math.floor(recordedAt.getTime() / hourMs) * hourMs);
}

/**
 * Likes analytics: `likes_per_hour(hour, source, likes, unlikes)`, the likes given and
 * taken back in each hour of the log (by when they were recorded), per source (web,
 * mobile, api); and `post_likes_per_hour(post_id, hour, likes, unlikes)`, the same per
 * post, which `likesPerHour(postId, from, to)` reads (its primary key is the index that
 * query needs). Version 2 added the per-post table: the first version could not answer
 * a post's series.
 *
 * A LikeRemoved does not say where the like came from, so the projection remembers the
 * source of every standing like in `like_sources(post_id, user_id, source)`, its own
 * working table, and counts an unlike under the source of the like it takes back.
 *
 * The counters add up: they rely on the runtime applying each event once per generation
 * (a batch's writes commit together with its checkpoint, or not at all).
 *
 * @example
 * ```ts
 * const today = await db.withSchema(readSchemaOf(store.schema, likesPerHour)).selectFrom('likes_per_hour')
 *   .selectAll().where('hour', '>=', midnight).orderBy('hour').execute();
 * ```
 */
export const likesPerHour = defineProjection({
  name: 'likes-per-hour',
  version: 2,
  events: likeEvents,
  categories: ['post'],
  schema: async (db) => {
    await db.schema
      .createTable('likes_per_hour')
      .addColumn('hour', 'timestamptz', (c) => c.notNull())
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('likes', 'integer', (c) => c.notNull())
      .addColumn('unlikes', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('likes_per_hour_pkey', ['hour', 'source'])
      .execute();
    await db.schema
      .createTable('like_sources')
      .addColumn('post_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('source', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('like_sources_pkey', ['post_id', 'user_id'])
      .execute();
    await db.schema
      .createTable('post_likes_per_hour')
      .addColumn('post_id', 'text', (c) => c.notNull())
      .addColumn('hour', 'timestamptz', (c) => c.notNull())
      .addColumn('likes', 'integer', (c) => c.notNull())
      .addColumn('unlikes', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('post_likes_per_hour_pkey', ['post_id', 'hour'])
      .execute();
  },
  apply: async (event, { db }) => {
    const { postId, userId } = event.data;
    let source: string;
    if (event.type === 'LikeCreated') {
      source = event.data.source;
      await db
        .insertInto('like_sources')
        .values({ post_id: postId, user_id: userId, source })
        .onConflict((oc) => oc.columns(['post_id', 'user_id']).doUpdateSet({ source }))
        .execute();
    } else {
      const removed = await db
        .deleteFrom('like_sources')
        .where('post_id', '=', postId)
        .where('user_id', '=', userId)
        .returning('source')
        .executeTakeFirst();
      // The aggregate only records an unlike of a standing like, so this means the log
      // and this table disagree: fail loudly (the event is dead-lettered) rather than
      // count it under a made-up source.
      if (!removed) throw new Error(`LikeRemoved of ${userId} on ${postId} at ${event.globalPosition}: no like to take back`);
      source = removed.source as string;
    }
    const [likes, unlikes] = event.type === 'LikeCreated' ? [1, 0] : [0, 1];
    const hour = hourOf(event.recordedAt);
    await db
      .insertInto('likes_per_hour')
      .values({ hour, source, likes, unlikes })
      .onConflict((oc) =>
        oc.columns(['hour', 'source']).doUpdateSet({
          likes: sql`likes_per_hour.likes + excluded.likes`,
          unlikes: sql`likes_per_hour.unlikes + excluded.unlikes`,
        }),
      )
      .execute();
    await db
      .insertInto('post_likes_per_hour')
      .values({ post_id: postId, hour, likes, unlikes })
      .onConflict((oc) =>
        oc.columns(['post_id', 'hour']).doUpdateSet({
          likes: sql`post_likes_per_hour.likes + excluded.likes`,
          unlikes: sql`post_likes_per_hour.unlikes + excluded.unlikes`,
        }),
      )
      .execute();
  },
});
