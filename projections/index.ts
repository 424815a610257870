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

/** Every example projection; notifications needs its `send`. */
export function exampleProjections(notifications: NotificationsOptions): AnyProjection[] {
  return [likeCounts, userLikes, notificationsProjection(notifications), likesPerHour, accountBalances, accountStatements, orderStatus];
}
