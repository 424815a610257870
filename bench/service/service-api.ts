/**
 * What the service figures run, from the working tree or from another checkout
 * (bench/compare): the store and the server's API, and the likes domain served as in
 * test/graphql/support/likes-service.ts (the likes mutations and the likes projections'
 * GraphQL parts, composed), with the projections those parts read.
 *
 * A checkout's domain/ and projections/ import 'annals' and 'annals/server', which its
 * tsconfig.json maps to its own src/ (tsx reads the paths), so a process that loads them
 * from there runs that commit's service throughout (bench/annals-api.ts does the same for
 * the store alone).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AnyProjection } from '../../src/index.js';
import type { GraphQLPart } from '../../src/graphql/graphql-part.js';
import { loadAnnals, type AnnalsApi } from '../annals-api.js';

export type ServerApi = typeof import('../../src/server/index.js');
type LikeMutationsModule = typeof import('../../domain/likes/likes.graphql.js');
type LikesAggregateModule = typeof import('../../domain/likes/likes.aggregate.js');
type LikeCountsModule = typeof import('../../projections/like-counts/like-counts.projection.js');
type LikeCountsPartModule = typeof import('../../projections/like-counts/like-counts.graphql.js');
type UserLikesModule = typeof import('../../projections/user-likes/user-likes.projection.js');
type UserLikesPartModule = typeof import('../../projections/user-likes/user-likes.graphql.js');
type NotificationsModule = typeof import('../../projections/notifications/notifications.projection.js');
type NotificationsPartModule = typeof import('../../projections/notifications/notifications.graphql.js');

/** The likes domain as the service serves it, from one version of Annals. */
export interface LikesService {
  annals: AnnalsApi;
  server: ServerApi;
  /** The likes aggregate, for the plain route that runs its commands without GraphQL. */
  postLikes: LikesAggregateModule['postLikes'];
  /** The projection `post(id) { likes }` reads. */
  likeCounts: AnyProjection;
  /** Every projection the composed parts read: what the workers run. */
  projections: AnyProjection[];
  parts: GraphQLPart[];
}

/** A module by its path in the repository: the working tree's, or `annalsRoot`'s. */
function importAt<M>(annalsRoot: string | undefined, file: string): Promise<M> {
  const root = annalsRoot ?? path.resolve(import.meta.dirname, '../..');
  return import(pathToFileURL(path.join(root, file)).href) as Promise<M>;
}

/** Loads the likes service of the working tree, or of the checkout at `annalsRoot`. */
export async function loadLikesService(annalsRoot?: string): Promise<LikesService> {
  const [annals, server, mutations, aggregate, counts, countsPart, users, usersPart, notifications, notificationsPart] = await Promise.all([
    loadAnnals(annalsRoot),
    importAt<ServerApi>(annalsRoot, 'src/server/index.ts'),
    importAt<LikeMutationsModule>(annalsRoot, 'domain/likes/likes.graphql.ts'),
    importAt<LikesAggregateModule>(annalsRoot, 'domain/likes/likes.aggregate.ts'),
    importAt<LikeCountsModule>(annalsRoot, 'projections/like-counts/like-counts.projection.ts'),
    importAt<LikeCountsPartModule>(annalsRoot, 'projections/like-counts/like-counts.graphql.ts'),
    importAt<UserLikesModule>(annalsRoot, 'projections/user-likes/user-likes.projection.ts'),
    importAt<UserLikesPartModule>(annalsRoot, 'projections/user-likes/user-likes.graphql.ts'),
    importAt<NotificationsModule>(annalsRoot, 'projections/notifications/notifications.projection.ts'),
    importAt<NotificationsPartModule>(annalsRoot, 'projections/notifications/notifications.graphql.ts'),
  ]);
  // Notifications go nowhere: the figures measure the service, not a push gateway.
  const notificationsProjection = notifications.notificationsProjection({ send: async () => {} });
  return {
    annals,
    server,
    postLikes: aggregate.postLikes,
    likeCounts: counts.likeCounts,
    projections: [counts.likeCounts, users.userLikes, notificationsProjection],
    parts: [mutations.likeMutations, countsPart.likeCountsGraphQL, usersPart.userLikesGraphQL, notificationsPart.notificationsGraphQL(notificationsProjection)],
  };
}
