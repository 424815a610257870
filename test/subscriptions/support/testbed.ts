/**
 * What the subscription tests share: a store in a schema of their file's own, the example
 * domains' GraphQL parts with their subscriptions, projection workers, and services
 * listening on it (any number, each on a store object of its own when asked: what two
 * API processes are).
 */
import { randomUUID } from 'node:crypto';
import { onTestFinished } from 'vitest';
import { afterAll } from 'vitest';
import { createEventStore, runProjections, type AnyProjection, type EventStore, type RunProjectionsOptions } from '../../../src/index.js';
import { composeSchema } from '../../../src/graphql/compose-schema.js';
import type { GraphQLPart } from '../../../src/graphql/graphql-part.js';
import { adminGraphQL } from '../../../src/server/admin/admin-graphql.js';
import { logSubscriptionsGraphQL } from '../../../src/server/subscriptions/log-subscriptions.js';
import { existingHubOf } from '../../../src/server/subscriptions/subscription-hub.js';
import type { ServiceOptions } from '../../../src/server/service-options.js';
import { likeMutations } from '../../../domain/likes/likes.graphql.js';
import { likeCountsGraphQL } from '../../../projections/like-counts/like-counts.graphql.js';
import { likeCounts } from '../../../projections/like-counts/like-counts.projection.js';
import { likeCountsSubscriptions } from '../../../projections/like-counts/like-counts.subscriptions.js';
import { accountBalances } from '../../../projections/account-balances/account-balances.projection.js';
import { accountBalancesSubscriptions } from '../../../projections/account-balances/account-balances.subscriptions.js';
import { orderStatus } from '../../../projections/order-status/order-status.projection.js';
import { orderStatusSubscriptions } from '../../../projections/order-status/order-status.subscriptions.js';
import { postGraphQL, startService } from '../../server/support/http.js';
import { testDatabaseUrl, useTestSchema } from '../../setup/database.js';

export const exampleProjections: AnyProjection[] = [likeCounts, accountBalances, orderStatus];

export const exampleParts: GraphQLPart[] = [
  likeMutations,
  likeCountsGraphQL,
  likeCountsSubscriptions,
  accountBalancesSubscriptions,
  orderStatusSubscriptions,
  // The log's subscriptions push the admin schema's LogEvent.
  adminGraphQL({ projections: exampleProjections }),
  logSubscriptionsGraphQL,
];

export interface Testbed {
  /** The store the workers use (and services, unless they ask for one of their own). */
  store: EventStore;
  /** Another store object on the same schema: what another process would have (its own pool and LISTEN connection). */
  newStore(): Promise<EventStore>;
  /** Runs projection workers until the test ends. */
  runWorkers(projections?: readonly AnyProjection[], options?: RunProjectionsOptions): Promise<void>;
  /** A listening service (closed when the test ends) over `store` (default: the testbed's). */
  startService(options?: Partial<ServiceOptions> & { parts?: GraphQLPart[] }): ReturnType<typeof startService>;
}

/** Call at the top level of a test file. */
export async function testbed(prefix: string): Promise<Testbed> {
  const { schema } = useTestSchema(prefix);
  const stores: EventStore[] = [];
  // Small pools: the files of the suite run at once, on a server others share.
  const open = (maxConnections: number) => {
    const store = createEventStore({ connectionString: testDatabaseUrl, maxConnections }, { schema });
    stores.push(store);
    return store;
  };
  const store = open(6);
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
  });
  await store.migrate();
  return {
    store,
    newStore: async () => open(3),
    async runWorkers(projections = exampleProjections, options = {}) {
      const runner = runProjections(store, projections, { pollIntervalMs: 1000, ...options });
      onTestFinished(() => runner.stop());
      await runner.ready;
    },
    startService: ({ parts = exampleParts, ...options } = {}) => startService({ store, ...composeSchema(parts), ...options }),
  };
}

/** `likePost` over HTTP: the position it returns. */
export async function likePost(url: string, postId: string, userId: string = randomUUID()): Promise<bigint> {
  const { body } = await postGraphQL(url, {
    query: 'mutation($p: ID!, $u: ID!) { likePost(postId: $p, userId: $u) { position } }',
    variables: { p: postId, u: userId },
  });
  if (body.errors) throw new Error(`likePost failed: ${JSON.stringify(body.errors)}`);
  return BigInt((body.data as { likePost: { position: string } }).likePost.position);
}

/** How many subscribers the service's hub serves for `store`, in this process (0 without a hub). */
export function subscribersOf(store: EventStore): number {
  return existingHubOf(store)?.subscribers ?? 0;
}

export const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

export interface PostLikes {
  postLikes: { postId: string; likes: number; position: string };
}

export const postLikesSubscription = 'subscription($p: ID!, $a: String) { postLikes(postId: $p, after: $a) { postId likes position } }';
