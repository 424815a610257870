import type { AnyAggregate } from './aggregates/define-aggregate.js';
import type { Consumer } from './consumers/define-consumer.js';
import type { Outbox } from './outbox/define-outbox.js';
import type { Retention } from './retention/define-retention.js';
import type { AnyProjection } from './projections/define-projection.js';

/**
 * What `annals.config.ts` exports by default: the projections, consumers and outboxes the
 * commands work on, the store's schema and which projections are applied inline with each append.
 *
 * @example
 * ```ts
 * // annals.config.ts
 * import { likeCounts } from './projections/like-counts/like-counts.projection.ts';
 * import { welcomeMails } from './consumers/welcome-mails.ts';
 * export default { schema: 'annals', projections: [likeCounts], consumers: [welcomeMails] } satisfies AnnalsConfig;
 * ```
 */
export interface AnnalsConfig {
  /** The store's Postgres schema (default: `ANNALS_SCHEMA`, else `annals`). */
  schema?: string;
  /** The aggregates whose stored events `annals schemas check` reads with their schemas (default none). */
  aggregates?: AnyAggregate[];
  projections: AnyProjection[];
  /** Names of the projections applied inline (see withInlineProjections). */
  inline?: string[];
  /** Consumers made with defineConsumer, for `annals consumers ...` (default none). */
  consumers?: Consumer[];
  /**
   * Outboxes made with defineOutbox ('annals/outbox'): `annals outbox relay` runs their
   * relays, `annals start` runs them beside the service, `annals status` reports them
   * (default none). Type-only here: the broker clients load when a publisher first
   * publishes, not with the config.
   */
  outboxes?: Outbox[];
  /**
   * What the retention job removes (made with defineRetention): `annals retention run`
   * runs it once, `annals start` every `runEveryMs` (docs/retention.md). Default none.
   */
  retention?: Retention;
  /** The GraphQL service `annals serve` and `annals start` run (docs/server.md, "Running it"). */
  service?: ServiceConfig;
}

/**
 * The service's schema and options. Typed here without the server's packages (fastify,
 * mercurius, graphql), which a project using only the event store does not install:
 * `parts` are what `graphqlPart` and `commandMutations` from 'annals/server' return, and
 * `options` are createService's other options, both checked when the service starts.
 *
 * @example
 * ```ts
 * import { likeMutations } from './domain/likes/likes.graphql.ts';
 * import { likeCountsGraphQL } from './projections/like-counts/like-counts.graphql.ts';
 * export default {
 *   projections: [likeCounts],
 *   service: { parts: [likeMutations, likeCountsGraphQL], options: { limits: { queryDepth: 8 } } },
 * } satisfies AnnalsConfig;
 * ```
 */
export interface ServiceConfig {
  /** The schema's parts, composed with composeSchema. */
  parts: readonly { readonly name: string; readonly typeDefs: string }[];
  /** createService's options but `store`, `schema`, `resolvers` and `loaders` (ServiceOptions in 'annals/server'). */
  options?: Readonly<Record<string, unknown>>;
}
