import { sql } from 'kysely';
import { z } from 'zod';
import { connectionLoader, connectionTypeDefs, defineConnection, graphqlPart, readModel, type GraphQLPart, type ReadContext } from 'annals/server';
import type { notificationsProjection } from './notifications.projection.js';

interface NotificationRow {
  event_id: string;
  post_id: string;
  user_id: string;
  message: string;
  created_at: Date;
}

interface NotificationsTables {
  notifications: NotificationRow;
}

const notificationsList = defineConnection({
  name: 'user.notifications',
  key: z.tuple([z.iso.datetime(), z.guid()]),
  keyOf: (row: NotificationRow): [string, string] => [row.created_at.toISOString(), row.event_id],
});

/**
 * `user(id) { notifications(first, after) }` from the notifications inbox: the
 * notifications the user's likes sent, newest first, a Relay connection (at most 100 per
 * page). The example domain has no post authors; with them, the inbox of a user would be
 * that of the posts they wrote. A loader: the lists of a page of users are one statement.
 *
 * A function of the projection, which needs its `send`: the part reads the read model
 * of the projection the service's workers run.
 *
 * @example
 * ```ts
 * const notifications = notificationsProjection({ send });
 * createService({ store, ...composeSchema([likeCountsGraphQL, userLikesGraphQL, notificationsGraphQL(notifications)]) });
 * ```
 */
export function notificationsGraphQL(projection: ReturnType<typeof notificationsProjection>): GraphQLPart {
  const readNotifications = readModel<NotificationsTables>(projection);
  return graphqlPart({
    name: 'notifications',
    typeDefs: `"""A like announced to the post's author."""
type Notification {
  """The id of the LikeCreated event it announces: one notification per like, ever."""
  id: ID!
  postId: ID!
  """Who liked the post."""
  userId: ID!
  message: String!
  """When the like was recorded (ISO 8601, UTC)."""
  createdAt: String!
}

extend type User {
  """The notifications this user's likes sent, newest first."""
  notifications(first: Int, after: String): NotificationConnection!
}

${connectionTypeDefs('Notification')}`,
    loaders: {
      User: {
        notifications: connectionLoader({
          connection: notificationsList,
          parentId: (user: { id: string }) => user.id,
          rowParent: (row) => row.user_id,
          read: (userIds, page, context: ReadContext) =>
            readNotifications(context, (db) =>
              db
                // The ids as a table to join from: kysely has no unnest of a parameter array.
                .selectFrom(db.selectNoFrom(sql<string>`unnest(${userIds}::text[])`.as('id')).as('ids'))
                .innerJoinLateral(
                  (eb) =>
                    eb
                      .selectFrom('notifications')
                      .selectAll()
                      .whereRef('user_id', '=', 'ids.id')
                      .$if(page.after !== undefined, (query) =>
                        query.where(({ eb: where, refTuple, tuple }) =>
                          where(refTuple('created_at', 'event_id'), '<', tuple(new Date(page.after![0]), page.after![1])),
                        ),
                      )
                      .orderBy('created_at', 'desc')
                      .orderBy('event_id', 'desc')
                      .limit(page.limit)
                      .as('page'),
                  (join) => join.onTrue(),
                )
                .selectAll('page')
                .orderBy('ids.id')
                .orderBy('page.created_at', 'desc')
                .orderBy('page.event_id', 'desc')
                .execute(),
            ),
          node: (row) => ({ id: row.event_id, postId: row.post_id, userId: row.user_id, message: row.message, createdAt: row.created_at.toISOString() }),
        }),
      },
    },
  });
}
