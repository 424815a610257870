/**
 * The walk from a zod schema to GraphQL input types: one field at a time, objects into
 * input types, enums into enum types, leaves into scalars. GraphQL gets the shape only:
 * refinements, `.min()` / `.max()` and transforms stay with zod, which parses the data
 * again before `decide` runs.
 */
import {
  GraphQLBoolean,
  GraphQLEnumType,
  GraphQLFloat,
  GraphQLID,
  GraphQLInputObjectType,
  GraphQLInt,
  GraphQLList,
  GraphQLNonNull,
  GraphQLScalarType,
  GraphQLString,
  astFromValue,
  type GraphQLInputType,
} from 'graphql';
import type { z } from 'zod';
import { GraphQLSchemaError } from '../errors/graphql-errors.js';
import type { InputShape, InputSlot } from './command-args.js';
import { choiceValues, defOf, leafKind, unwrap, type LeafKind } from './zod-introspection.js';

/** The state of one derivation: what it was asked, and the types it has made so far. */
export interface Derivation {
  readonly mutation: string;
  readonly command: string;
  /** First part of every derived type name: the mutation's name, capitalised. */
  readonly prefix: string;
  readonly scalars: ReadonlyMap<string, string>;
  readonly typeNames: ReadonlyMap<string, string>;
  /** Keys of `scalars` and `typeNames` that matched a field: the others are typos, refused. */
  readonly usedScalars: Set<string>;
  readonly usedTypeNames: Set<string>;
  /** Enum and input types by name, with the field path each was derived for. */
  readonly types: Map<string, { type: GraphQLEnumType | GraphQLInputObjectType; path: string }>;
  /** Objects being walked: meeting one again means the schema is recursive. */
  readonly open: Set<z.ZodType>;
}

/** One argument or input field: its GraphQL type, how to read its value, its rendered default. */
export interface DerivedInput {
  type: GraphQLInputType;
  slot: InputSlot;
  /** Shown in the SDL (`= web`); `undefined` when there is none or it cannot be shown faithfully. */
  defaultValue: unknown;
  /** A scalar of the caller's own is in it: its serialisation is unknown, so defaults are not shown. */
  custom: boolean;
}

/** An input type GraphQLNonNull may wrap: graphql 16 names no such union for input types. */
type NullableInputType = GraphQLScalarType | GraphQLEnumType | GraphQLInputObjectType | GraphQLList<GraphQLInputType>;

interface DerivedCore {
  type: NullableInputType;
  shape: InputShape;
  custom: boolean;
}

const int32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };
const builtinScalars: Record<string, GraphQLScalarType> = {
  ID: GraphQLID,
  String: GraphQLString,
  Int: GraphQLInt,
  Float: GraphQLFloat,
  Boolean: GraphQLBoolean,
};
const scalarsOfKind: Record<LeafKind, readonly string[]> = {
  string: ['ID', 'String'],
  number: ['Int', 'Float'],
  boolean: ['Boolean'],
  other: [],
};

export const isGraphQLName = (name: string): boolean => /^[_A-Za-z][_0-9A-Za-z]*$/.test(name) && !name.startsWith('__');
export const capitalise = (name: string): string => name.charAt(0).toUpperCase() + name.slice(1);

export function fail(derivation: Derivation, field: string, reason: string): never {
  throw new GraphQLSchemaError({ mutation: derivation.mutation, command: derivation.command, field }, reason);
}

// `id`, `postId`, `accountId`: an identifier, so GraphQL's ID. `postIds` for a list of them.
const isIdName = (name: string, inList: boolean): boolean =>
  name === 'id' || /[a-z0-9]Id$/.test(name) || (inList && (name === 'ids' || /[a-z0-9]Ids$/.test(name)));

const unsupported: Record<string, string> = {
  date: 'z.date() has no GraphQL input: JSON arguments carry no Date. Use z.iso.datetime() or z.coerce.date() (a String)',
  bigint: "a bigint has no GraphQL input (GraphQL's Int has 32 bits, JSON has no bigint). Use a z.string() of digits",
  record: 'a record has keys chosen by the client; GraphQL input types list their fields',
  map: 'a map has keys chosen by the client; GraphQL input types list their fields',
  tuple: 'a tuple has items of different types; a GraphQL list has one',
  union: 'GraphQL has no input unions; only unions of string literals become enums',
  intersection: 'an intersection has no GraphQL input; merge the objects with .extend()',
  any: 'z.any() accepts any value; GraphQL needs a type',
  unknown: 'z.unknown() accepts any value; GraphQL needs a type',
};

function unsupportedReason(core: z.ZodType, path: string): string {
  const type = defOf(core).type;
  const reason = unsupported[type] ?? `z.${type}() has no faithful GraphQL input type`;
  return `${reason} (or give the field a scalar of your own: scalars: { '${path}': 'JSON' })`;
}

function register(derivation: Derivation, type: GraphQLEnumType | GraphQLInputObjectType, path: string): void {
  const earlier = derivation.types.get(type.name);
  if (earlier !== undefined) {
    fail(derivation, path, `its type name '${type.name}' is also that of field '${earlier.path}': name one of them with typeNames`);
  }
  derivation.types.set(type.name, { type, path });
}

function typeName(derivation: Derivation, path: string, suffix: string): string {
  const given = derivation.typeNames.get(path);
  if (given === undefined) return derivation.prefix + path.split('.').map(capitalise).join('') + suffix;
  derivation.usedTypeNames.add(path);
  if (!isGraphQLName(given)) fail(derivation, path, `typeNames gives '${given}', which is not a GraphQL name`);
  return given;
}

function scalarOverride(derivation: Derivation, core: z.ZodType, path: string, name: string): GraphQLScalarType {
  derivation.usedScalars.add(path);
  if (!isGraphQLName(name)) fail(derivation, path, `scalars gives '${name}', which is not a GraphQL name`);
  const builtin = builtinScalars[name];
  if (builtin === undefined) return new GraphQLScalarType({ name });
  const kind = leafKind(core);
  if (!scalarsOfKind[kind].includes(name)) {
    const allowed = scalarsOfKind[kind].join(' or ') || 'none of the built-in scalars, only one of your own';
    fail(derivation, path, `scalars gives ${name} to a z.${defOf(core).type}(), which can take ${allowed}`);
  }
  // Int is for a domain's integers only: on fractions it would refuse what zod accepts.
  if (name === 'Int' && !isIntegral(core)) fail(derivation, path, 'scalars gives Int to a number that is not an integer: Float suits it');
  return builtin;
}

function isIntegral(core: z.ZodType): boolean {
  if (defOf(core).type === 'number') return (core as unknown as z.ZodNumber).isInt === true;
  return (choiceValues(core) ?? []).every((value) => Number.isInteger(value));
}

function intType(derivation: Derivation, core: z.ZodNumber, path: string): GraphQLScalarType {
  if (!core.isInt) return GraphQLFloat;
  // z.number().int() alone is bounded by zod at ±(2^53 - 1): that is no statement about the
  // domain, so it stays Int. A bound the schema states beyond 32 bits is one: Int would
  // refuse values the domain accepts, Float would accept fractions, so the caller chooses.
  const stated = [core.minValue, core.maxValue].filter(
    (bound): bound is number => bound !== null && Math.abs(bound) !== Number.MAX_SAFE_INTEGER,
  );
  const beyond = stated.find((bound) => bound < int32.min || bound > int32.max);
  if (beyond === undefined) return GraphQLInt;
  return fail(
    derivation,
    path,
    `an integer bounded at ${beyond} does not fit GraphQL's 32-bit Int (${int32.min} to ${int32.max}): ` +
      `choose scalars: { '${path}': 'Int' } (GraphQL then refuses larger values) or 'Float'`,
  );
}

function enumType(derivation: Derivation, values: readonly string[], path: string): GraphQLEnumType {
  for (const value of values) {
    if (!isGraphQLName(value) || value === 'true' || value === 'false' || value === 'null') {
      fail(
        derivation,
        path,
        `enum value '${value}' is not a GraphQL enum value (letters, digits and _; not true, false, null): ` +
          `map the field to String with scalars: { '${path}': 'String' }`,
      );
    }
  }
  const type = new GraphQLEnumType({
    name: typeName(derivation, path, ''),
    values: Object.fromEntries(values.map((value) => [value, { value }])),
  });
  register(derivation, type, path);
  return type;
}

function choiceType(derivation: Derivation, core: z.ZodType, path: string): NullableInputType {
  const values = choiceValues(core) ?? [];
  switch (leafKind(core)) {
    case 'string':
      return enumType(derivation, values as string[], path);
    case 'boolean':
      return GraphQLBoolean;
    case 'number':
      return (values as number[]).every((value) => Number.isInteger(value) && value >= int32.min && value <= int32.max) ? GraphQLInt : GraphQLFloat;
    default:
      return fail(derivation, path, unsupportedReason(core, path));
  }
}

function objectType(derivation: Derivation, core: z.ZodObject, path: string): DerivedCore {
  if (derivation.open.has(core)) {
    fail(derivation, path, 'the schema is recursive; a derived input type cannot refer to itself (give the field a scalar of your own)');
  }
  derivation.open.add(core);
  const fields = deriveFields(derivation, core, path);
  derivation.open.delete(core);
  if (fields.size === 0) fail(derivation, path, 'an empty object has no GraphQL input type (GraphQL input types need a field)');
  const type = new GraphQLInputObjectType({
    name: typeName(derivation, path, 'Input'),
    fields: Object.fromEntries([...fields].map(([name, field]) => [name, { type: field.type, defaultValue: field.defaultValue }])),
  });
  register(derivation, type, path);
  const slots = new Map([...fields].map(([name, field]) => [name, field.slot]));
  return { type, shape: { kind: 'object', fields: slots }, custom: [...fields.values()].some((field) => field.custom) };
}

function deriveCore(derivation: Derivation, core: z.ZodType, path: string, inList: boolean): DerivedCore {
  const def = defOf(core);
  if (def.type === 'array') {
    const item = deriveField(derivation, def.element!, path, true);
    const shape: InputShape = { kind: 'list', item: item.slot };
    return { type: new GraphQLList(item.type), shape, custom: item.custom };
  }
  const value: InputShape = { kind: 'value' };
  const override = derivation.scalars.get(path);
  if (override !== undefined) {
    const type = scalarOverride(derivation, core, path, override);
    return { type, shape: value, custom: builtinScalars[type.name] === undefined };
  }
  const name = path.split('.').at(-1) ?? path;
  switch (def.type) {
    case 'string':
    case 'template_literal':
      return { type: isIdName(name, inList) ? GraphQLID : GraphQLString, shape: value, custom: false };
    case 'number':
      return { type: intType(derivation, core as unknown as z.ZodNumber, path), shape: value, custom: false };
    case 'boolean':
      return { type: GraphQLBoolean, shape: value, custom: false };
    case 'object':
      return objectType(derivation, core as z.ZodObject, path);
  }
  if (leafKind(core) === 'string' && def.type === 'date') return { type: GraphQLString, shape: value, custom: false };
  if (choiceValues(core) !== undefined) return { type: choiceType(derivation, core, path), shape: value, custom: false };
  return fail(derivation, path, unsupportedReason(core, path));
}

/**
 * A default is shown in the SDL only when sending it is the same as sending nothing: it
 * parses to itself (no transform changes it) and GraphQL can print it for this type.
 */
function shownDefault(defaulted: { value: unknown; schema: z.ZodType } | undefined, type: GraphQLInputType, custom: boolean): unknown {
  if (defaulted === undefined || defaulted.value === undefined || custom) return undefined;
  try {
    const parsed = defaulted.schema.safeParse(defaulted.value);
    if (!parsed.success || JSON.stringify(parsed.data) !== JSON.stringify(defaulted.value)) return undefined;
    return astFromValue(defaulted.value, type) == null ? undefined : defaulted.value;
  } catch {
    // astFromValue throws on a value its type cannot serialise (an enum value it lacks).
    return undefined;
  }
}

/** One field (or list item) at `path`: wrappers decide nullability, the core its type. */
export function deriveField(derivation: Derivation, schema: z.ZodType, path: string, inList = false): DerivedInput {
  const { core, optional, nullable, default: defaulted } = unwrap(schema);
  const derived = deriveCore(derivation, core, path, inList);
  const type = optional || nullable ? derived.type : new GraphQLNonNull(derived.type);
  return {
    type,
    slot: { shape: derived.shape, optional, nullable },
    defaultValue: shownDefault(defaulted, derived.type, derived.custom),
    custom: derived.custom,
  };
}

/** The fields of an object schema, in its order; `path` is the object's own ('' for the data). */
export function deriveFields(derivation: Derivation, object: z.ZodObject, path: string): Map<string, DerivedInput> {
  const fields = new Map<string, DerivedInput>();
  for (const [name, schema] of Object.entries(object.shape)) {
    const fieldPath = path === '' ? name : `${path}.${name}`;
    if (!isGraphQLName(name)) fail(derivation, fieldPath, `'${name}' is not a GraphQL name (letters, digits and _, not starting with __)`);
    fields.set(name, deriveField(derivation, schema as z.ZodType, fieldPath));
  }
  return fields;
}
