/**
 * The likes-per-hour projection as `likesPerHour(postId, ...)` needs it: per post as
 * well as per source. The example projection (version 1) counts likes per hour and
 * source across all posts, so no post's series can be read from it. This is the change
 * proposed for projections/likes-per-hour (version 2): the same tables and counts, and
 * `post_likes_per_hour(post_id, hour, likes, unlikes)` beside them. It has the example's
 * name, so the GraphQL part reads it through the same read schema; once the example
 * projection carries it, the tests use the example itself.
 */
import { sql } from 'kysely';
import { defineProjection } from '../../../src/index.js';
import { hourOf, likesPerHour } from '../../../projections/likes-per-hour/likes-per-hour.projection.js';

const v1 = likesPerHour.definition;

export const likesPerHourV2 = defineProjection({
  ...v1,
  version: 2,
  schema: async (db) => {
    await v1.schema(db);
    await db.schema
      .createTable('post_likes_per_hour')
      .addColumn('post_id', 'text', (c) => c.notNull())
      .addColumn('hour', 'timestamptz', (c) => c.notNull())
      .addColumn('likes', 'integer', (c) => c.notNull())
      .addColumn('unlikes', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('post_likes_per_hour_pkey', ['post_id', 'hour'])
      .execute();
  },
  apply: async (event, context) => {
    await v1.apply!(event, context);
    const [likes, unlikes] = event.type === 'LikeCreated' ? [1, 0] : [0, 1];
    await context.db
      .insertInto('post_likes_per_hour')
      .values({ post_id: event.data.postId, hour: hourOf(event.recordedAt), likes, unlikes })
      .onConflict((oc) =>
        oc.columns(['post_id', 'hour']).doUpdateSet({
          likes: sql`post_likes_per_hour.likes + excluded.likes`,
          unlikes: sql`post_likes_per_hour.unlikes + excluded.unlikes`,
        }),
      )
      .execute();
  },
});
