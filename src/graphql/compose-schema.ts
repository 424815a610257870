/**
 * Parts (graphql-part.ts) into what createService takes: one SDL, resolvers and loaders.
 * Composition is checked as a whole, at startup: a type or field two parts both define,
 * a resolver of a field no part declares, a schema graphql refuses, each an error naming
 * the part, rather than one part silently replacing another's resolver.
 */
import { buildSchema, isObjectType, isInterfaceType, Kind, type GraphQLSchema } from 'graphql';
import { ValidationError } from '../errors.js';
import { commandResultTypeDefs } from './command-mutations.js';
import { pageInfoTypeDefs } from './connection.js';
import { parseTypeDefs, type GraphQLPart, type PartLoaders, type PartResolvers } from './graphql-part.js';

/** What createService takes: `createService({ store, ...composeSchema(parts) })`. */
export interface ComposedSchema {
  schema: string;
  resolvers: PartResolvers;
  loaders: PartLoaders;
}

const roots = ['Query', 'Mutation', 'Subscription'] as const;
/** Types composeSchema defines, which parts use (roots: extend) and never define. */
const shared: Record<string, string> = {
  Query: 'extend it: extend type Query { ... }',
  Mutation: 'extend it: extend type Mutation { ... }',
  Subscription: 'extend it: extend type Subscription { ... }',
  PageInfo: 'use it as it is: every connection shares it',
  CommandResult: 'use it as it is, or return a type of your own (returns)',
};

/**
 * Composes the parts of a service's schema. `Query` (and `Mutation` and `Subscription`
 * when a part extends them), `PageInfo` and `CommandResult` are defined here, once.
 *
 * @throws ValidationError naming the part (`part(like-counts).resolvers.Post.likes`) or,
 * for what graphql refuses in the schema as a whole, `schema`.
 *
 * @example
 * ```ts
 * const service = await createService({
 *   store,
 *   ...composeSchema([likeMutations, likeCountsGraphQL, userLikesGraphQL]),
 * });
 * ```
 */
export function composeSchema(parts: readonly GraphQLPart[]): ComposedSchema {
  const extendedRoots = new Set<string>();
  const names = new Set<string>();
  for (const part of parts) {
    if (names.has(part.name)) throw new ValidationError([{ field: `part(${part.name}).name`, reason: 'is the name of another part too' }]);
    names.add(part.name);
    for (const definition of parseTypeDefs(part).definitions) {
      const field = `part(${part.name}).typeDefs`;
      if (definition.kind === Kind.SCHEMA_DEFINITION || definition.kind === Kind.SCHEMA_EXTENSION) {
        throw new ValidationError([{ field, reason: 'defines the schema itself: composeSchema does, with Query, Mutation and Subscription' }]);
      }
      if (!('name' in definition) || definition.name === undefined) continue;
      const name = definition.name.value;
      const extension = definition.kind === Kind.OBJECT_TYPE_EXTENSION;
      if (!extension && Object.hasOwn(shared, name) && definition.kind !== Kind.DIRECTIVE_DEFINITION) {
        throw new ValidationError([{ field, reason: `defines type ${name}, which composeSchema defines: ${shared[name]}` }]);
      }
      if (extension && (roots as readonly string[]).includes(name)) extendedRoots.add(name);
    }
  }
  if (!extendedRoots.has('Query')) {
    throw new ValidationError([{ field: 'parts', reason: 'no part extends type Query: a schema needs at least one query' }]);
  }
  const base = [...roots.filter((root) => extendedRoots.has(root)).map((root) => `type ${root}`), pageInfoTypeDefs, commandResultTypeDefs];
  const schema = [...base, ...parts.map((part) => part.typeDefs)].join('\n\n');
  let built: GraphQLSchema;
  try {
    built = buildSchema(schema);
  } catch (error) {
    throw new ValidationError([{ field: 'schema', reason: (error as Error).message }]);
  }
  const resolvers: Record<string, unknown> = {};
  const loaders: Record<string, Record<string, unknown>> = {};
  const owners = new Map<string, string>();
  const claim = (part: GraphQLPart, where: string, path: string) => {
    const owner = owners.get(path);
    if (owner !== undefined) {
      throw new ValidationError([{ field: `part(${part.name}).${where}.${path}`, reason: `part ${owner} resolves ${path} already` }]);
    }
    owners.set(path, part.name);
    const [type, field] = path.split('.');
    if (!hasField(built, type!, field)) {
      throw new ValidationError([{ field: `part(${part.name}).${where}.${path}`, reason: `the schema has no ${field === undefined ? 'type' : 'field'} ${path}` }]);
    }
  };
  for (const part of parts) {
    for (const [type, value] of Object.entries(part.resolvers ?? {})) {
      if (!isFieldMap(value)) {
        // A scalar (GraphQLScalarType) or a type's own resolver: the type's, whole.
        claim(part, 'resolvers', type);
        resolvers[type] = value;
        continue;
      }
      const fields = (resolvers[type] ??= {}) as Record<string, unknown>;
      for (const [field, resolver] of Object.entries(value)) {
        claim(part, 'resolvers', `${type}.${field}`);
        fields[field] = resolver;
      }
    }
    for (const [type, fields] of Object.entries(part.loaders ?? {})) {
      for (const [field, loader] of Object.entries(fields)) {
        claim(part, 'loaders', `${type}.${field}`);
        (loaders[type] ??= {})[field] = loader;
      }
    }
  }
  return { schema, resolvers: resolvers as PartResolvers, loaders: loaders as PartLoaders };
}

/** Resolvers by field (a plain object), as opposed to a scalar's or an enum's class instance. */
function isFieldMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

function hasField(schema: GraphQLSchema, typeName: string, field: string | undefined): boolean {
  const type = schema.getType(typeName);
  if (type === undefined || type === null) return false;
  // __resolveType and __isTypeOf are the type's own, not fields.
  if (field === undefined || field.startsWith('__')) return true;
  // Enum value maps are resolved by value, not by field; other types by their fields.
  if (isObjectType(type) || isInterfaceType(type)) return field in type.getFields();
  return true;
}
