/**
 * The service's public API, imported from 'annals/server' (not the main entry point: it
 * needs fastify, mercurius and graphql, which projects that only use the event store do
 * not install). The GraphQL service is being built (docs/server.md, docs/graphql.md):
 * this is its core so far.
 */
export { createService, type Service } from './create-service.js';
export type {
  ContextBuilder,
  LogLevel,
  ResolverContext,
  ServiceContext,
  ServiceLimits,
  ServiceOptions,
} from './service-options.js';
export type { ReadinessCheck, ReadinessReport, ReadinessResult } from './readiness.js';
export { closeOnSignal, type SignalShutdown } from './close-on-signal.js';
export { listenOptionsFromEnvironment, type ListenOptions } from './listen-environment.js';
export { RequestRefusedError, RequestTimeoutError, ServiceErrorCodes, type ServiceErrorCode } from './service-errors.js';
export { ConsistencyRefusedError, minPositionHeader, type ReadYourWrites, type ReadYourWritesOptions } from './read-your-writes.js';
export {
  mergeTypeDefs,
  mutationFor,
  type CommandMutation,
  type CommandMutationOptions,
  type DerivedTypeDef,
} from '../graphql/zod-to-graphql.js';
export { composeSchema, type ComposedSchema } from '../graphql/compose-schema.js';
export { graphqlPart, type GraphQLPart, type PartLoaders, type PartResolvers } from '../graphql/graphql-part.js';
export {
  commandMutations,
  type MutationContext,
  type MutationOutcome,
  type MutationSpec,
  type MutationSpecs,
} from '../graphql/command-mutations.js';
export { readModel, type PreparedRead, type ReadContext, type ReadModel } from '../graphql/read-model.js';
export {
  connectionTypeDefs,
  defineConnection,
  type Connection,
  type ConnectionArgs,
  type ConnectionDefinition,
  type ConnectionOptions,
  type Edge,
  type PageRequest,
} from '../graphql/connection.js';
export { connectionLoader, type ConnectionLoaderOptions, type LoaderQuery } from '../graphql/connection-loader.js';
export { adminGraphQL, type AdminGraphQLOptions } from './admin/admin-graphql.js';
export { AccessRefusedError, holdsRole, requireRole, Roles, type Authenticate, type Principal } from './principal.js';
export { securityFromEnvironment } from './security/security-environment.js';
export type {
  ApiKey,
  CorsOptions,
  JwtAlgorithm,
  JwtOptions,
  QueryCostOptions,
  RateLimit,
  RateLimitOptions,
  SecurityOptions,
  VerifyToken,
} from './security/security-options.js';
export { RateLimitedError } from './security/rate-limits.js';
export { QueryTooComplexError } from './security/query-cost.js';
export { projectionSubscription, type ProjectionSubscriptionDefinition, type ProjectionUpdate } from './subscriptions/projection-subscription.js';
export { logSubscriptionsGraphQL } from './subscriptions/log-subscriptions.js';
export type { SubscriptionOptions } from './subscriptions/subscription-options.js';
export type { SubscriptionContext } from './subscriptions/subscription-connection.js';
export type { MetricsOptions } from './metrics/metrics-options.js';
export {
  countAppendedEvents,
  metricsRegistry,
  trackSubscription,
  type SubscriptionEndReason,
  type TrackedSubscription,
} from './metrics/service-metrics.js';
export { outboxRelayMetrics } from './metrics/outbox-metrics.js';
export { retentionRunMetrics, type RetentionRunReporter } from './metrics/retention-metrics.js';
