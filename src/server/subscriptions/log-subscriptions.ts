import { z } from 'zod';
import { categoryOf } from '../../event-store/stream-name.js';
import { streamIdSchema } from '../../event-store/validation.js';
import { graphqlPart, type GraphQLPart } from '../../graphql/graphql-part.js';
import { parseInput } from '../../validation.js';
import { Roles, requireRole } from '../principal.js';
import { parseClientPosition } from '../read-your-writes.js';
import { LogSubscription, LogWakeFeed, type LogSubscriptionTarget } from './log-subscription.js';
import type { SubscriptionConnection, SubscriptionContext } from './subscription-connection.js';
import { clientError, subscriptionResolver } from './subscription-field.js';
import { subscriptionHubOf } from './subscription-hub.js';

// The admin schema's LogEvent (admin/admin-type-defs.ts): the log is one type, queried or pushed.
const typeDefs = `extend type Subscription {
  """
  The events of one stream as they are appended (admin only). With after, every event
  after that position first, then new ones: none is missed, none comes twice.
  """
  streamEvents(streamId: ID!, after: String): LogEvent!
  """
  The events of one category (post for post-42) as they are appended (admin only). With
  after, every event after that position first, then new ones.
  """
  categoryEvents(category: String!, after: String): LogEvent!
}`;

const streamArgs = z.object({ streamId: streamIdSchema });
const categoryArgs = z.object({
  category: streamIdSchema.refine((category) => !category.includes('-'), {
    error: "must be a category (the part of a stream id before its first '-': post for post-42)",
  }),
});

/** The hub's feed of log subscriptions is one per store: this is its key. */
const wakeFeedKey = {};

async function startLogSubscription(target: LogSubscriptionTarget, after: bigint | undefined, context: SubscriptionContext, connection: SubscriptionConnection, field: string) {
  const { store } = context;
  const hub = subscriptionHubOf(store, connection.log);
  // Without `after`, what is appended from now on: the head readers see now.
  const from = after ?? (await store.headPosition());
  const feed = hub.feed(wakeFeedKey, () => new LogWakeFeed(() => hub.release(wakeFeedKey)));
  const subscription: LogSubscription = new LogSubscription({
    store,
    target,
    after: from,
    log: connection.log,
    failure: (error) => clientError(error, field, connection),
    onEnd: () => {
      feed.remove(subscription);
      connection.detach(subscription);
    },
  });
  feed.add(subscription);
  return subscription;
}

/**
 * The log over websockets, for operators (admin role): `streamEvents(streamId, after)` and
 * `categoryEvents(category, after)` push each event once readers of the log can see it
 * (its transaction committed, and every older appender's too: docs/global-log.md). They
 * answer `UNAUTHENTICATED` without a token, `FORBIDDEN` without the admin role. They push
 * the admin schema's `LogEvent`: compose this part with `adminGraphQL`, which defines it.
 *
 * @example
 * ```ts
 * composeSchema([...parts, adminGraphQL({ projections }), logSubscriptionsGraphQL]);
 * // subscription { categoryEvents(category: "post", after: "123456") { position streamId type data } }
 * ```
 */
export const logSubscriptionsGraphQL: GraphQLPart = graphqlPart({
  name: 'log-subscriptions',
  typeDefs,
  resolvers: {
    Subscription: {
      streamEvents: subscriptionResolver('streamEvents', async (args, context, connection) => {
        requireRole(context, Roles.admin);
        const after = parseClientPosition(args.after, 'after');
        const { streamId } = parseInput(streamArgs, { streamId: args.streamId }, '');
        return startLogSubscription({ category: categoryOf(streamId), streamId }, after, context, connection, 'streamEvents');
      }),
      categoryEvents: subscriptionResolver('categoryEvents', async (args, context, connection) => {
        requireRole(context, Roles.admin);
        const after = parseClientPosition(args.after, 'after');
        const { category } = parseInput(categoryArgs, { category: args.category }, '');
        return startLogSubscription({ category }, after, context, connection, 'categoryEvents');
      }),
    },
  },
});
