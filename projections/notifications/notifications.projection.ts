import { defineProjection } from 'annals';
import { likeEvents } from '../../domain/likes/likes.events.js';

/** A notification as the inbox keeps it and as it is sent. */
export interface LikeNotification {
  /** The LikeCreated event it announces: one notification per event, ever. */
  eventId: string;
  postId: string;
  userId: string;
  message: string;
  createdAt: Date;
}

export interface NotificationsOptions {
  /** The effect outside the database (push, e-mail…). Called once per new notification, never during a rebuild. */
  send: (notification: LikeNotification) => Promise<void>;
}

/**
 * An inbox per post: `notifications(event_id, post_id, user_id, message, created_at)`, a
 * row for each like, and `send` for each row that is new.
 *
 * The row is keyed by the LikeCreated event's id, so an event delivered again (a
 * checkpoint moved back, a dead letter retried) finds its row and sends nothing.
 * During a rebuild (`replaying`) rows are written but nothing is sent: those
 * notifications went out when the events were first processed.
 *
 * `user(id) { notifications }` reads a user's rows newest first, after a cursor
 * `(created_at, event_id)`: the index `(user_id, created_at, event_id)` makes a page one
 * range scan of `first` rows. Version 2 added it (a generation's tables are made once, so
 * a new index needs a new generation: deployed read models get it by a rebuild, which
 * sends nothing again).
 *
 * Delivery is at least once, not exactly once: `send` runs inside the batch's
 * transaction, so if that transaction then rolls back (a lost lease, a failure later in
 * the batch) the notification went out but its row did not commit, and the next
 * delivery sends it again. Receivers deduplicate by `eventId`; exactly once needs an
 * outbox written in the same transaction instead of a direct call.
 *
 * @example
 * ```ts
 * const notifications = notificationsProjection({ send: (n) => push.send(n.postId, n.message) });
 * const runner = runProjections(store, [notifications]);
 * ```
 */
export function notificationsProjection(options: NotificationsOptions) {
  return defineProjection({
    name: 'notifications',
    version: 2,
    events: { LikeCreated: likeEvents.LikeCreated },
    categories: ['post'],
    schema: async (db) => {
      await db.schema
        .createTable('notifications')
        .addColumn('event_id', 'uuid', (c) => c.primaryKey())
        .addColumn('post_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('notifications_post_idx').on('notifications').columns(['post_id', 'created_at']).execute();
      await db.schema.createIndex('notifications_user_idx').on('notifications').columns(['user_id', 'created_at', 'event_id']).execute();
    },
    apply: async (event, { db, replaying }) => {
      const notification: LikeNotification = {
        eventId: event.id,
        postId: event.data.postId,
        userId: event.data.userId,
        message: `${event.data.userId} liked your post ${event.data.postId}`,
        createdAt: event.recordedAt,
      };
      const inserted = await db
        .insertInto('notifications')
        .values({
          event_id: notification.eventId,
          post_id: notification.postId,
          user_id: notification.userId,
          message: notification.message,
          created_at: notification.createdAt,
        })
        .onConflict((oc) => oc.column('event_id').doNothing())
        .returning('event_id')
        .execute();
      if (inserted.length > 0 && !replaying) await options.send(notification);
    },
  });
}
