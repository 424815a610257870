/**
 * The example projections, built from the example domains (domain/likes,
 * domain/bank-account, domain/orders).
 *
 * @example
 * ```ts
 * const runner = runProjections(store, exampleProjections({ send: async (n) => console.log(n.message) }));
 * ```
 */
import type { AnyProjection } from 'annals';
import { accountBalances } from './account-balances/account-balances.projection.js';
import { accountStatements } from './account-statements/account-statements.projection.js';
import { likeCounts } from './like-counts/like-counts.projection.js';
import { likesPerHour } from './likes-per-hour/likes-per-hour.projection.js';
import { notificationsProjection, type NotificationsOptions } from './notifications/notifications.projection.js';
import { orderStatus } from './order-status/order-status.projection.js';
import { userLikes } from './user-likes/user-likes.projection.js';

export { accountBalances, accountStatements, likeCounts, likesPerHour, notificationsProjection, orderStatus, userLikes };
export type { LikeNotification, NotificationsOptions } from './notifications/notifications.projection.js';

/**
 * Every example projection; notifications needs its `send`, or the projection itself
 * when its GraphQL part (notificationsGraphQL) must read the same one.
 */
export function exampleProjections(notifications: NotificationsOptions | ReturnType<typeof notificationsProjection>): AnyProjection[] {
  const notifier = 'send' in notifications ? notificationsProjection(notifications) : notifications;
  return [likeCounts, userLikes, notifier, likesPerHour, accountBalances, accountStatements, orderStatus];
}
