/**
 * The `annals` command's config for this repository: the example projections
 * (projections/index.ts) and the order process manager on the store in DATABASE_URL (or
 * the embedded PGlite), the outbox publishing the likes to NATS JetStream at NATS_URL,
 * and the GraphQL service over the example domains that `npm start` (`annals start`) runs.
 *
 * @example
 * ```sh
 * npm start                                # the service and the workers, one process
 * npm run annals -- serve --migrate        # the API alone (any number of these)
 * npm run annals -- projections run        # the projections' workers alone
 * npm run annals -- outbox relay           # the outbox's relay alone (NATS from docker-compose)
 * npm run annals -- status
 * ```
 */
import { defineOutbox, natsPublisher } from 'annals/outbox';
import { adminGraphQL, logSubscriptionsGraphQL } from 'annals/server';
import { z } from 'zod';
import { bankAccount } from './domain/bank-account/bank-account.aggregate.js';
import { bankAccountMutations } from './domain/bank-account/bank-account.graphql.js';
import { postLikes } from './domain/likes/likes.aggregate.js';
import { likeMutations } from './domain/likes/likes.graphql.js';
import { inventoryMutations } from './domain/orders/inventory/inventory.graphql.js';
import { stockItem } from './domain/orders/inventory/stock-item.aggregate.js';
import { stockReservation } from './domain/orders/inventory/stock-reservation.aggregate.js';
import { order } from './domain/orders/order/order.aggregate.js';
import { orderMutations } from './domain/orders/order/order.graphql.js';
import { orderProcessManager } from './domain/orders/order-process-manager.js';
import { paymentAccount } from './domain/orders/payment/payment-account.aggregate.js';
import { paymentMutations } from './domain/orders/payment/payment.graphql.js';
import { accountBalancesGraphQL } from './projections/account-balances/account-balances.graphql.js';
import { accountBalancesSubscriptions } from './projections/account-balances/account-balances.subscriptions.js';
import { accountStatementsGraphQL } from './projections/account-statements/account-statements.graphql.js';
import { exampleProjections, notificationsProjection } from './projections/index.js';
import { likeCountsGraphQL } from './projections/like-counts/like-counts.graphql.js';
import { likeCountsSubscriptions } from './projections/like-counts/like-counts.subscriptions.js';
import { likesPerHourGraphQL } from './projections/likes-per-hour/likes-per-hour.graphql.js';
import { notificationsGraphQL } from './projections/notifications/notifications.graphql.js';
import { orderStatusGraphQL } from './projections/order-status/order-status.graphql.js';
import { orderStatusSubscriptions } from './projections/order-status/order-status.subscriptions.js';
import { userLikesGraphQL } from './projections/user-likes/user-likes.graphql.js';
import type { AnnalsConfig } from './src/cli/config.js';

const notifications = notificationsProjection({
  // The example has no push service: a notification is a line on stderr (stdout carries the JSON logs).
  send: async (notification) => {
    process.stderr.write(`notification for post ${notification.postId}: ${notification.message}\n`);
  },
});
const projections = exampleProjections(notifications);

/**
 * The likes, as other services see them: a public shape of their own (the internal event
 * schema may change; these may not without a new schemaVersion). Subjects
 * `annals.post.LikeCreated` and `annals.post.LikeRemoved` in the stream ANNALS, created
 * when missing. The publisher connects on its first publish: the config loads, and the
 * service starts, without NATS; the relay retries until NATS is there.
 */
const publicLike = z.object({ postId: z.string(), userId: z.string() });
const likesOutbox = defineOutbox({
  name: 'likes',
  destinations: { likes: { publisher: natsPublisher({ servers: process.env.NATS_URL || 'nats://127.0.0.1:4222' }) } },
  routes: [
    {
      destination: 'likes',
      eventTypes: ['LikeCreated'],
      schema: publicLike.extend({ source: z.enum(['web', 'mobile', 'api']) }),
      // The log keeps LikeCreated as written: version 1 said `post` and had no `source`.
      map: ({ data }) => {
        const like = data as { postId?: string; post?: string; userId: string; source?: string };
        return { postId: like.postId ?? like.post, userId: like.userId, source: like.source ?? 'web' };
      },
    },
    { destination: 'likes', eventTypes: ['LikeRemoved'], schema: publicLike, map: ({ data }) => ({ postId: (data as { postId: string }).postId, userId: (data as { userId: string }).userId }) },
  ],
});

export default {
  schema: process.env.ANNALS_SCHEMA || 'annals',
  // Read by `annals schemas check` with their event schemas and upcasters.
  aggregates: [postLikes, bankAccount, order, stockItem, stockReservation, paymentAccount],
  projections,
  consumers: [orderProcessManager()],
  outboxes: [likesOutbox],
  service: {
    parts: [
      // likes on posts
      likeMutations,
      likeCountsGraphQL,
      likeCountsSubscriptions,
      userLikesGraphQL,
      notificationsGraphQL(notifications),
      likesPerHourGraphQL,
      // the bank account
      bankAccountMutations,
      accountBalancesGraphQL,
      accountBalancesSubscriptions,
      accountStatementsGraphQL,
      // the order flow
      orderMutations,
      inventoryMutations,
      paymentMutations,
      orderStatusGraphQL,
      orderStatusSubscriptions,
      // operations: projections, dead letters, the log and its live feed (admin role)
      adminGraphQL({ projections }),
      logSubscriptionsGraphQL,
    ],
  },
} satisfies AnnalsConfig;
