import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AnnalsError } from '../../src/errors.js';
import { GraphQLSchemaError } from '../../src/errors/graphql-errors.js';
import { mergeTypeDefs, mutationFor, type CommandMutationOptions } from '../../src/graphql/zod-to-graphql.js';

// What GraphQL cannot take faithfully is refused at startup with a typed error that names
// the mutation, the command and the field path, never derived into something that drifts.
function refusal(data: z.ZodType, options: CommandMutationOptions = {}): GraphQLSchemaError {
  try {
    mutationFor('placeOrder', data, { command: 'PlaceOrder', ...options });
  } catch (error) {
    expect(error).toBeInstanceOf(GraphQLSchemaError);
    return error as GraphQLSchemaError;
  }
  return expect.unreachable('the derivation should have been refused');
}

const nested = (field: z.ZodType) => z.object({ lines: z.array(z.object({ sku: z.string(), at: field })) });

describe('schemas with no faithful GraphQL input', () => {
  it.each([
    ['a union of objects', z.union([z.object({ a: z.string() }), z.object({ b: z.number() })]), /no input unions/],
    ['a discriminated union', z.discriminatedUnion('k', [z.object({ k: z.literal('a') }), z.object({ k: z.literal('b') })]), /no input unions/],
    ['a union of string and number', z.union([z.string(), z.number()]), /no input unions/],
    ['literals of mixed kinds', z.literal(['a', 1]), /no faithful GraphQL input/],
    ['a record', z.record(z.string(), z.number()), /record has keys chosen by the client/],
    ['a map', z.map(z.string(), z.number()), /map has keys/],
    ['a set', z.set(z.string()), /z.set\(\) has no faithful GraphQL input/],
    ['a tuple', z.tuple([z.string(), z.number()]), /a tuple has items of different types/],
    ['a bigint', z.bigint(), /bigint has no GraphQL input/],
    ['a date', z.date(), /z.date\(\) has no GraphQL input.*z.iso.datetime\(\)/],
    ['an intersection', z.intersection(z.object({ a: z.string() }), z.object({ b: z.string() })), /\.extend\(\)/],
    ['any', z.any(), /accepts any value/],
    ['unknown', z.unknown(), /accepts any value/],
    ['a custom schema', z.custom<string>((v) => typeof v === 'string'), /z.custom\(\) has no faithful GraphQL input/],
    ['a bare transform', z.transform((v: unknown) => String(v)), /z.transform\(\) has no faithful GraphQL input/],
    ['null alone', z.null(), /z.null\(\) has no faithful GraphQL input/],
    ['an empty object', z.object({}), /empty object/],
    ['an enum value that is not a GraphQL name', z.enum(['in-progress']), /enum value 'in-progress' is not a GraphQL enum value/],
    ['an enum value GraphQL reserves', z.enum(['true', 'false']), /enum value 'true'/],
    ['a field name that is not a GraphQL name', z.object({ 'first-name': z.string() }), /'first-name' is not a GraphQL name/],
  ])('refuses %s, naming the command and the field path', (_label, field, reason) => {
    const error = refusal(nested(field));
    expect(error).toBeInstanceOf(AnnalsError);
    expect(error.code).toBe('ANNALS_GRAPHQL_SCHEMA');
    expect(error.mutation).toBe('placeOrder');
    expect(error.command).toBe('PlaceOrder');
    expect(error.field).toMatch(/^lines\.at/);
    expect(error.reason).toMatch(reason);
    expect(error.message).toBe(`mutation 'placeOrder' (command 'PlaceOrder'), field '${error.field}': ${error.reason}`);
  });

  it('refuses an integer bounded beyond 32 bits, saying how to choose', () => {
    const error = refusal(z.object({ amount: z.number().int().positive().max(1_000_000_000_000) }));
    expect(error.field).toBe('amount');
    expect(error.reason).toBe(
      "an integer bounded at 1000000000000 does not fit GraphQL's 32-bit Int (-2147483648 to 2147483647): " +
        "choose scalars: { 'amount': 'Int' } (GraphQL then refuses larger values) or 'Float'",
    );
    expect(refusal(z.object({ n: z.number().int().min(-1e10) })).field).toBe('n');
    expect(refusal(z.object({ n: z.uint32() })).field).toBe('n');
  });

  it('refuses a recursive schema', () => {
    const category = z.object({
      name: z.string(),
      get children(): z.ZodOptional<z.ZodArray<typeof category>> {
        return z.array(category).optional();
      },
    });
    const error = refusal(z.object({ root: category }));
    expect(error.field).toBe('root.children');
    expect(error.reason).toMatch(/recursive/);
  });

  it('refuses data that is not an object', () => {
    const error = refusal(z.array(z.string()));
    expect(error.field).toBe('');
    expect(error.message).toBe("mutation 'placeOrder' (command 'PlaceOrder'): the data schema is a z.array(), not a z.object(): a mutation's arguments are the fields of an object");
  });

  it('names the mutation as the command when no command is given', () => {
    expect(() => mutationFor('act', z.object({ at: z.date() }))).toThrow("mutation 'act' (command 'act'), field 'at': z.date()");
  });
});

describe('options that would make the API drift', () => {
  const data = z.object({ postId: z.string(), count: z.number().int(), ratio: z.number(), kind: z.enum(['a']), lines: z.array(z.object({ sku: z.string() })) });

  it.each<[string, CommandMutationOptions, string, RegExp]>([
    ['a scalar for no field', { scalars: { postID: 'String' } }, 'postID', /scalars names 'postID', which is no field/],
    ['a type name for no enum or object', { typeNames: { postId: 'Post' } }, 'postId', /typeNames names 'postId'/],
    ['a built-in scalar that does not suit the field', { scalars: { postId: 'Int' } }, 'postId', /scalars gives Int to a z.string\(\), which can take ID or String/],
    ['Int for a number that is not an integer', { scalars: { ratio: 'Int' } }, 'ratio', /gives Int to a number that is not an integer/],
    ['ID for a number', { scalars: { count: 'ID' } }, 'count', /which can take Int or Float/],
    ['a built-in scalar for an object', { scalars: { lines: 'String' } }, 'lines', /only one of your own/],
    ['a scalar name that is not a GraphQL name', { scalars: { count: 'Big Int' } }, 'count', /not a GraphQL name/],
    ['a type name that is not a GraphQL name', { typeNames: { kind: 'my-kind' } }, 'kind', /not a GraphQL name/],
    ['one type name for two fields', { typeNames: { kind: 'Same', lines: 'Same' } }, 'lines', /its type name 'Same' is also that of field 'kind'/],
  ])('refuses %s', (_label, options, field, reason) => {
    const error = refusal(data, options);
    expect(error.field).toBe(field);
    expect(error.reason).toMatch(reason);
  });

  it('refuses an aggregate id that is optional, a number, or an extra one given another scalar than ID or String', () => {
    const optional = refusal(data.extend({ note: z.string().optional() }), { aggregateId: 'note' });
    expect(optional.field).toBe('note');
    expect(optional.reason).toBe('the aggregate id must be a required string (ID! or String!), not String');
    expect(refusal(data, { aggregateId: 'count' }).reason).toBe('the aggregate id must be a required string (ID! or String!), not Int!');
    expect(refusal(data, { aggregateId: 'accountId', scalars: { accountId: 'Int' } }).reason).toBe(
      'the aggregate id is a string: scalars may give it ID or String, not Int',
    );
  });

  it('refuses a mutation name that is not a GraphQL name', () => {
    expect(() => mutationFor('place-order', data)).toThrow(GraphQLSchemaError);
  });

  it('refuses two mutations that derive one type name differently', () => {
    const a = mutationFor('a', z.object({ lines: z.array(z.object({ sku: z.string() })) }), { typeNames: { lines: 'LineInput' } });
    const b = mutationFor('b', z.object({ lines: z.array(z.object({ sku: z.number() })) }), { typeNames: { lines: 'LineInput' } });
    expect(() => mergeTypeDefs([a, b])).toThrow("mutation 'b' (command 'b'): type 'LineInput' differs from the one mutation 'a' derives");
  });
});
