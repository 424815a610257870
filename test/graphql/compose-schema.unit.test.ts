import { buildSchema, isNonNullType, printSchema, type GraphQLField, type GraphQLObjectType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { commandMutations } from '../../src/graphql/command-mutations.js';
import { composeSchema } from '../../src/graphql/compose-schema.js';
import { graphqlPart, type GraphQLPart } from '../../src/graphql/graphql-part.js';
import { likeMutations } from '../../domain/likes/likes.graphql.js';
import { postLikes } from '../../domain/likes/likes.aggregate.js';
import { likeCountsGraphQL } from '../../projections/like-counts/like-counts.graphql.js';
import { likesPerHourGraphQL } from '../../projections/likes-per-hour/likes-per-hour.graphql.js';
import { notificationsGraphQL } from '../../projections/notifications/notifications.graphql.js';
import { notificationsProjection } from '../../projections/notifications/notifications.projection.js';
import { userLikesGraphQL } from '../../projections/user-likes/user-likes.graphql.js';

const part = (name: string, typeDefs: string, rest: Partial<GraphQLPart> = {}): GraphQLPart => graphqlPart({ name, typeDefs, ...rest });
const resolve = () => 'x';

/** The ValidationError `compose` throws, as its issues. */
function refusal(compose: () => unknown): unknown {
  try {
    compose();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).issues;
  }
  throw new Error('composed without an error');
}

describe('composeSchema', () => {
  it('joins the parts under the shared roots and types, with every resolver and loader', () => {
    const a = part('a', 'type A { id: ID! n: Int! }  extend type Query { a: A }', { resolvers: { Query: { a: resolve } }, loaders: { A: { n: async () => [] } } });
    const b = part('b', 'extend type A { more: String }  extend type Query { b: String }', { resolvers: { Query: { b: resolve }, A: { more: resolve } } });
    const composed = composeSchema([a, b]);
    const schema = buildSchema(composed.schema);
    expect(Object.keys(schema.getQueryType()!.getFields())).toEqual(['a', 'b']);
    expect(schema.getMutationType()).toBeUndefined();
    expect(Object.keys(schema.getTypeMap()).filter((name) => !name.startsWith('__'))).toEqual(
      expect.arrayContaining(['Query', 'PageInfo', 'CommandResult', 'A']),
    );
    expect(composed.resolvers).toEqual({ Query: { a: resolve, b: resolve }, A: { more: resolve } });
    expect(Object.keys(composed.loaders)).toEqual(['A']);
  });

  it('adds Mutation when a part extends it', () => {
    const composed = composeSchema([part('q', 'extend type Query { q: Int }'), likeMutations]);
    expect(Object.keys(buildSchema(composed.schema).getMutationType()!.getFields())).toEqual(['likePost', 'unlikePost']);
  });

  it.each([
    ['two parts resolving one field', [part('a', 'extend type Query { x: Int }', { resolvers: { Query: { x: resolve } } }), part('b', 'extend type Query { y: Int }', { resolvers: { Query: { x: resolve } } })], 'part(b).resolvers.Query.x', 'part a resolves Query.x already'],
    ['a resolver and a loader of one field', [part('a', 'type T { f: Int }  extend type Query { t: T }', { resolvers: { T: { f: resolve } }, loaders: { T: { f: async () => [] } } })], 'part(a).loaders.T.f', 'part a resolves T.f already'],
    ['a resolver of a field no part declares', [part('a', 'extend type Query { x: Int }', { resolvers: { Query: { y: resolve } } })], 'part(a).resolvers.Query.y', 'the schema has no field Query.y'],
    ['a loader of a type no part declares', [part('a', 'extend type Query { x: Int }', { loaders: { Nope: { f: async () => [] } } })], 'part(a).loaders.Nope.f', 'the schema has no field Nope.f'],
    ['a part defining Query', [part('a', 'type Query { x: Int }')], 'part(a).typeDefs', 'defines type Query, which composeSchema defines: extend it: extend type Query { ... }'],
    ['a part defining PageInfo', [part('a', 'type PageInfo { x: Int }  extend type Query { x: Int }')], 'part(a).typeDefs', 'defines type PageInfo, which composeSchema defines: use it as it is: every connection shares it'],
    ['a part defining the schema', [part('a', 'schema { query: Q }  type Q { x: Int }')], 'part(a).typeDefs', 'defines the schema itself: composeSchema does, with Query, Mutation and Subscription'],
    ['two parts of one name', [part('a', 'extend type Query { x: Int }'), part('a', 'extend type Query { y: Int }')], 'part(a).name', 'is the name of another part too'],
    ['no query', [part('a', 'type A { x: Int }')], 'parts', 'no part extends type Query: a schema needs at least one query'],
  ])('refuses %s', (_case, parts, field, reason) => {
    expect(refusal(() => composeSchema(parts))).toEqual([{ field, reason }]);
  });

  it('refuses a schema graphql refuses, with its reason', () => {
    expect(refusal(() => composeSchema([part('a', 'extend type Query { x: Missing }')]))).toEqual([
      { field: 'schema', reason: 'Unknown type "Missing".' },
    ]);
  });

  it('refuses SDL that does not parse, naming the part', () => {
    expect(refusal(() => graphqlPart({ name: 'broken', typeDefs: 'type {' }))).toEqual([
      { field: 'part(broken).typeDefs', reason: 'Syntax Error: Expected Name, found "{".' },
    ]);
  });
});

describe('commandMutations', () => {
  it('refuses a command the aggregate lacks, and no command at all', () => {
    // @ts-expect-error: not a command of postLikes
    expect(refusal(() => commandMutations(postLikes, { SharePost: { name: 'sharePost', aggregateId: 'postId' } }))).toEqual([
      { field: 'commandMutations(post).SharePost', reason: 'is not a command of post: LikePost, UnlikePost' },
    ]);
    expect(refusal(() => commandMutations(postLikes, {}))).toEqual([{ field: 'commandMutations(post)', reason: 'names no command: give at least one' }]);
  });

  it('writes the description and a result type of your own', () => {
    const mutations = commandMutations(postLikes, { LikePost: { name: 'like', aggregateId: 'postId', description: 'Likes "it".', returns: 'LikeResult' } });
    expect(mutations.typeDefs).toContain('  "Likes \\"it\\"."\n  like(postId: ID!, userId: ID!, source: LikeSource): LikeResult!');
  });
});

describe('the likes schema', () => {
  const schema = buildSchema(
    composeSchema([likeMutations, likeCountsGraphQL, userLikesGraphQL, notificationsGraphQL(notificationsProjection({ send: async () => {} })), likesPerHourGraphQL]).schema,
  );
  const fieldOf = (type: string, field: string): GraphQLField<unknown, unknown> => (schema.getType(type) as GraphQLObjectType).getFields()[field]!;
  const argumentsOf = (type: string, field: string) => Object.fromEntries(fieldOf(type, field).args.map((arg) => [arg.name, String(arg.type)]));

  // Issue 14 fixes these names and arguments for clients and docs.
  it.each([
    ['Mutation', 'likePost', { postId: 'ID!', userId: 'ID!', source: 'LikePostSource' }],
    ['Mutation', 'unlikePost', { postId: 'ID!', userId: 'ID!' }],
    ['Query', 'post', { id: 'ID!' }],
    ['Query', 'user', { id: 'ID!' }],
    ['Query', 'likesPerHour', { postId: 'ID!', from: 'String', to: 'String' }],
    ['Post', 'likedBy', { first: 'Int', after: 'String' }],
    ['User', 'likedPosts', { first: 'Int', after: 'String' }],
    ['User', 'notifications', { first: 'Int', after: 'String' }],
  ])('has %s.%s with the arguments of the issue', (type, field, args) => {
    expect(argumentsOf(type, field)).toEqual(args);
  });

  it('answers every mutation with streamId, version and position', () => {
    for (const mutation of Object.values(schema.getMutationType()!.getFields())) {
      expect(isNonNullType(mutation.type), mutation.name).toBe(true);
      expect(String(mutation.type)).toBe('CommandResult!');
    }
    expect(printSchema(schema)).toContain('type CommandResult {');
    expect(Object.fromEntries(Object.values((schema.getType('CommandResult') as GraphQLObjectType).getFields()).map((f) => [f.name, String(f.type)]))).toEqual({
      streamId: 'ID!',
      version: 'Int!',
      position: 'String!',
    });
  });

  it('has post { id likes } and connections with pageInfo { hasNextPage endCursor }', () => {
    expect(String(fieldOf('Post', 'id').type)).toBe('ID!');
    expect(String(fieldOf('Post', 'likes').type)).toBe('Int!');
    for (const [type, field, connection] of [['Post', 'likedBy', 'UserConnection'], ['User', 'likedPosts', 'PostConnection'], ['User', 'notifications', 'NotificationConnection']] as const) {
      expect(String(fieldOf(type, field).type)).toBe(`${connection}!`);
    }
    expect(Object.keys((schema.getType('PageInfo') as GraphQLObjectType).getFields())).toEqual(['hasNextPage', 'endCursor']);
  });
});
