/**
 * A part of the service's GraphQL schema: what one projection (its read model's types
 * and queries) or one aggregate (its commands as mutations) contributes. Parts live
 * beside what they expose (`like-counts.graphql.ts` beside `like-counts.projection.ts`);
 * {@link composeSchema} puts them together for `createService`, so a user's own
 * projections and aggregates plug in exactly as the examples do.
 */
import { parse } from 'graphql';
import type { IResolvers, MercuriusLoaders } from 'mercurius';
import { ValidationError } from '../errors.js';

// Resolvers of any parent and context: each declares its own (`context: ServiceContext`),
// as mercurius' own defaults do; composeSchema's result fits createService's options.
/* eslint-disable @typescript-eslint/no-explicit-any */
export type PartResolvers = IResolvers<any, any>;
export type PartLoaders = MercuriusLoaders<any>;
/* eslint-enable @typescript-eslint/no-explicit-any */

export interface GraphQLPart {
  /** Names the part in composition errors: the projection's or the aggregate's name. */
  readonly name: string;
  /**
   * SDL: the part's own types, and its root fields as extensions (`extend type Query {
   * post(id: ID!): Post }`, `extend type Mutation { ... }`); a type of another part may be
   * extended too (`extend type Post { likedBy(...) }`). `Query`, `Mutation`, `PageInfo`
   * and `CommandResult` are defined once, by composeSchema.
   */
  readonly typeDefs: string;
  /** Resolvers by type and field, as mercurius takes them. */
  readonly resolvers?: PartResolvers;
  /** mercurius loaders: fields resolved in one batch per request (a page's N rows in one read). */
  readonly loaders?: PartLoaders;
}

/**
 * Declares a part, checking its SDL parses (the error names the part).
 *
 * @throws ValidationError on `part.name` (empty) or `part(<name>).typeDefs` (not GraphQL SDL).
 *
 * @example
 * ```ts
 * export const likeCountsGraphQL = graphqlPart({
 *   name: 'like-counts',
 *   typeDefs: `type Post { id: ID! likes: Int! }  extend type Query { post(id: ID!): Post! }`,
 *   resolvers: { Query: { post: (_root, { id }: { id: string }) => ({ id }) } },
 *   loaders: { Post: { likes: async (queries, context) => ...one read for every post... } },
 * });
 * ```
 */
export function graphqlPart(part: GraphQLPart): GraphQLPart {
  if (typeof part.name !== 'string' || part.name.trim() === '') {
    throw new ValidationError([{ field: 'part.name', reason: 'must be a non-empty string naming the part in errors' }]);
  }
  parseTypeDefs(part);
  return Object.freeze({ ...part });
}

/** The part's SDL as a document. @throws ValidationError naming the part and graphql's finding. */
export function parseTypeDefs(part: GraphQLPart): ReturnType<typeof parse> {
  const field = `part(${part.name}).typeDefs`;
  if (typeof part.typeDefs !== 'string' || part.typeDefs.trim() === '') {
    throw new ValidationError([{ field, reason: 'must be GraphQL SDL (a non-empty string)' }]);
  }
  try {
    return parse(part.typeDefs);
  } catch (error) {
    throw new ValidationError([{ field, reason: (error as Error).message }]);
  }
}
