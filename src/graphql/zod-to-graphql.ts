/**
 * Mutations derived from commands: a command's zod data schema becomes a mutation's
 * arguments and the input and enum types they need, so the GraphQL API cannot drift from
 * what `decide` accepts (issue 14, "Mutation input types are derived from the domain's
 * zod command schemas").
 *
 * The output is SDL text, not schema objects: mercurius takes the schema as strings
 * (joined, then built with graphql's `buildSchema`), so derived mutations sit beside the
 * type definitions projections write by hand, and a test can read them. The text is
 * printed by graphql's own printer from graphql type objects, so names, escaping and
 * default values are graphql's, not ours.
 */
import { astFromValue, print, printType, type GraphQLInputType } from 'graphql';
import type { z } from 'zod';
import { GraphQLSchemaError } from '../errors/graphql-errors.js';
import { convertObject } from './command-args.js';
import { defOf, unwrap } from './zod-introspection.js';
import { capitalise, deriveFields, fail, isGraphQLName, type Derivation } from './zod-input-types.js';

export interface CommandMutationOptions {
  /** The command's type (`LikePost`), named in errors; default: the mutation's name. */
  command?: string;
  /**
   * The argument that carries the aggregate id for `handleCommand`. A field of the data
   * (`postId` for likePost) is used as it is; any other name becomes a first, extra
   * `ID!` argument that is not part of the data (`accountId` for deposit, whose data is
   * only the amount).
   */
  aggregateId?: string;
  /**
   * A GraphQL scalar per field path, replacing the derived one: `{ postId: 'String' }`
   * (not ID), `{ amount: 'Int' }` (an integer bounded beyond 32 bits), `{ 'lines.at':
   * 'DateTime' }`. A path is dotted; a list's items add no segment. A built-in scalar must
   * suit the field (ID or String for strings and enums, Int or Float for numbers, Boolean
   * for booleans); any other name is a scalar of your own, which you define (`scalar
   * DateTime`) with a parseValue that gives what zod expects, for any field.
   */
  scalars?: Readonly<Record<string, string>>;
  /** Names for derived enum and input types per field path; default `<Mutation><Field>` and `<Mutation><Field>Input`. */
  typeNames?: Readonly<Record<string, string>>;
}

/** One derived enum or input type, by name, in SDL. */
export interface DerivedTypeDef {
  name: string;
  sdl: string;
}

/** What {@link mutationFor} derives for one command. */
export interface CommandMutation<Data = Record<string, unknown>> {
  /** The mutation's name (`likePost`). */
  name: string;
  /** The command's type, as given in options (else the mutation's name). */
  command: string;
  /** The field with its arguments, without a return type: `likePost(postId: ID!, userId: ID!, source: LikePostSource)`. */
  signature: string;
  /** The enum and input types the arguments use, in SDL, one after another ('' when none). */
  typeDefs: string;
  /** The same types one by one, for composing several mutations ({@link mergeTypeDefs}). */
  types: readonly DerivedTypeDef[];
  /**
   * The resolver's `args` as `handleCommand` takes them: the aggregate id (when
   * `aggregateId` was given) and the command's data, which zod parses in handleCommand.
   */
  toCommand(args: Readonly<Record<string, unknown>>): { aggregateId: string | undefined; data: Data };
}

function printArgument(name: string, type: GraphQLInputType, defaultValue: unknown): string {
  const ast = defaultValue === undefined ? null : astFromValue(defaultValue, type);
  return `${name}: ${String(type)}${ast == null ? '' : ` = ${print(ast)}`}`;
}

function refuseUnused(derivation: Derivation, option: string, given: ReadonlyMap<string, string>, used: ReadonlySet<string>): void {
  for (const path of given.keys()) {
    if (!used.has(path)) fail(derivation, path, `${option} names '${path}', which is no field of the data that can take it`);
  }
}

/**
 * Derives a mutation from a command's zod data schema: `z.string()` → String (ID for
 * `id` and `...Id` fields), `z.number().int()` → Int, `z.number()` → Float, `z.boolean()`
 * → Boolean, `z.enum` → an enum type, arrays → lists, objects → input types; optional,
 * nullable and defaulted fields are nullable arguments. Checks and transforms stay with
 * zod. What GraphQL cannot take faithfully is a {@link GraphQLSchemaError}, at startup.
 * docs/graphql.md, "Mutations from commands", has the rules.
 *
 * @throws GraphQLSchemaError naming the mutation, the command, the field path and why.
 *
 * @example
 * ```ts
 * const likePost = mutationFor('likePost', likeCommands.LikePost, { command: 'LikePost', aggregateId: 'postId' });
 * likePost.signature; // 'likePost(postId: ID!, userId: ID!, source: LikePostSource)'
 * const schema = [likePost.typeDefs, `type Mutation { ${likePost.signature}: CommandResult! }`, ...];
 * // in the resolver:
 * const { aggregateId, data } = likePost.toCommand(args);
 * await handleCommand(store, postLikes, aggregateId!, { type: 'LikePost', data });
 * ```
 */
export function mutationFor<Data extends z.ZodType>(
  name: string,
  data: Data,
  options: CommandMutationOptions = {},
): CommandMutation<z.input<Data>> {
  const command = options.command ?? name;
  if (!isGraphQLName(name)) {
    throw new GraphQLSchemaError({ mutation: name, command, field: '' }, `'${name}' is not a GraphQL name (letters, digits and _)`);
  }
  const derivation: Derivation = {
    mutation: name,
    command,
    prefix: capitalise(name),
    scalars: new Map(Object.entries(options.scalars ?? {})),
    typeNames: new Map(Object.entries(options.typeNames ?? {})),
    usedScalars: new Set(),
    usedTypeNames: new Set(),
    types: new Map(),
    open: new Set(),
  };
  const { core } = unwrap(data);
  if (defOf(core).type !== 'object') {
    fail(derivation, '', `the data schema is a z.${defOf(core).type}(), not a z.object(): a mutation's arguments are the fields of an object`);
  }
  derivation.open.add(core);
  const fields = deriveFields(derivation, core as z.ZodObject, '');
  const args = [...fields].map(([field, input]) => printArgument(field, input.type, input.defaultValue));

  const idName = options.aggregateId;
  if (idName !== undefined) {
    const field = fields.get(idName);
    if (field === undefined) {
      if (!isGraphQLName(idName)) fail(derivation, idName, `aggregateId '${idName}' is not a GraphQL name`);
      const scalar = derivation.scalars.get(idName) ?? 'ID';
      derivation.usedScalars.add(idName);
      if (scalar !== 'ID' && scalar !== 'String') {
        fail(derivation, idName, `the aggregate id is a string: scalars may give it ID or String, not ${scalar}`);
      }
      args.unshift(`${idName}: ${scalar}!`);
    } else if (!['ID!', 'String!'].includes(String(field.type))) {
      fail(derivation, idName, `the aggregate id must be a required string (ID! or String!), not ${String(field.type)}`);
    }
  }
  refuseUnused(derivation, 'scalars', derivation.scalars, derivation.usedScalars);
  refuseUnused(derivation, 'typeNames', derivation.typeNames, derivation.usedTypeNames);

  const types = [...derivation.types.values()].map(({ type }) => ({ name: type.name, sdl: printType(type) }));
  const slots = new Map([...fields].map(([field, input]) => [field, input.slot]));
  return {
    name,
    command,
    signature: args.length === 0 ? name : `${name}(${args.join(', ')})`,
    typeDefs: types.map((type) => type.sdl).join('\n\n'),
    types,
    toCommand: (values) => ({
      aggregateId: idName === undefined ? undefined : String(values[idName]),
      data: convertObject(slots, values) as z.input<Data>,
    }),
  };
}

/**
 * The enum and input types of several mutations, each once: a type two mutations share
 * (the same name given with `typeNames`) must be the same in both.
 *
 * @throws GraphQLSchemaError when two mutations derive one type name differently.
 *
 * @example
 * ```ts
 * const schema = [mergeTypeDefs([likePost, unlikePost]), `type Mutation { ${likePost.signature}: Result! ... }`];
 * ```
 */
export function mergeTypeDefs(mutations: readonly CommandMutation<unknown>[]): string {
  const seen = new Map<string, { sdl: string; mutation: string }>();
  for (const mutation of mutations) {
    for (const type of mutation.types) {
      const earlier = seen.get(type.name);
      if (earlier === undefined) seen.set(type.name, { sdl: type.sdl, mutation: mutation.name });
      else if (earlier.sdl !== type.sdl) {
        throw new GraphQLSchemaError(
          { mutation: mutation.name, command: mutation.command, field: '' },
          `type '${type.name}' differs from the one mutation '${earlier.mutation}' derives: give one of them another name with typeNames`,
        );
      }
    }
  }
  return [...seen.values()].map((type) => type.sdl).join('\n\n');
}
