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
export { readModel, type ReadContext, type ReadModel } from '../graphql/read-model.js';
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
