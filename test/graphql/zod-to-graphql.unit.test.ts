import { buildSchema, graphql } from 'graphql';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { mergeTypeDefs, mutationFor, type CommandMutation } from '../../src/graphql/zod-to-graphql.js';

// Issue 14: mutation input types are derived from the commands' zod schemas. Each rule
// below is what a user writing a zod schema expects to see in GraphQL.
const signature = (data: z.ZodType, options = {}) => mutationFor('act', data, options).signature;

describe('scalars', () => {
  it('maps strings to String, and id / ...Id strings to ID', () => {
    expect(signature(z.object({ title: z.string(), id: z.string(), postId: z.string(), paid: z.string() }))).toBe(
      'act(title: String!, id: ID!, postId: ID!, paid: String!)',
    );
  });

  it('maps lists of ids named ids / ...Ids to [ID!]!, and a numeric ...Id to Int', () => {
    expect(signature(z.object({ postIds: z.array(z.string()), userId: z.number().int() }))).toBe('act(postIds: [ID!]!, userId: Int!)');
  });

  it('lets the caller give a field String instead of ID', () => {
    expect(signature(z.object({ postId: z.string() }), { scalars: { postId: 'String' } })).toBe('act(postId: String!)');
  });

  it('maps integers to Int, other numbers to Float, booleans to Boolean', () => {
    expect(signature(z.object({ count: z.number().int(), ratio: z.number(), done: z.boolean(), small: z.int32() }))).toBe(
      'act(count: Int!, ratio: Float!, done: Boolean!, small: Int!)',
    );
  });

  it('keeps Int for integers bounded inside 32 bits', () => {
    expect(signature(z.object({ n: z.number().int().min(-(2 ** 31)).max(2 ** 31 - 1), q: z.number().int().positive() }))).toBe(
      'act(n: Int!, q: Int!)',
    );
  });

  it('lets the caller choose Int or Float for an integer bounded beyond 32 bits', () => {
    const data = z.object({ amount: z.number().int().positive().max(1e12) });
    expect(signature(data, { scalars: { amount: 'Int' } })).toBe('act(amount: Int!)');
    expect(signature(data, { scalars: { amount: 'Float' } })).toBe('act(amount: Float!)');
  });

  it('keeps the base type under checks, refinements and transforms: zod still parses', () => {
    const data = z.object({
      owner: z.string().trim().min(1).max(200),
      email: z.email(),
      code: z.string().refine((s) => s.startsWith('x')),
      length: z.string().transform((s) => s.length),
      count: z.preprocess((v) => Number(v), z.number().int()),
      at: z.iso.datetime(),
      day: z.coerce.date(),
    });
    expect(signature(data)).toBe('act(owner: String!, email: String!, code: String!, length: String!, count: Int!, at: String!, day: String!)');
  });

  it('gives a field a scalar of the caller own, for types GraphQL has not', () => {
    const made = mutationFor('act', z.object({ at: z.date(), tags: z.record(z.string(), z.string()).optional() }), {
      scalars: { at: 'DateTime', tags: 'JSON' },
    });
    expect(made.signature).toBe('act(at: DateTime!, tags: JSON)');
    // The caller defines its scalars: the derived SDL only uses them.
    expect(made.typeDefs).toBe('');
  });
});

describe('enums', () => {
  it('maps z.enum to an enum named after the mutation and the field', () => {
    const made = mutationFor('likePost', z.object({ source: z.enum(['web', 'mobile']) }));
    expect(made.signature).toBe('likePost(source: LikePostSource!)');
    expect(made.typeDefs).toBe('enum LikePostSource {\n  web\n  mobile\n}');
  });

  it('takes an enum name from the caller', () => {
    const made = mutationFor('likePost', z.object({ source: z.enum(['web']) }), { typeNames: { source: 'LikeSource' } });
    expect(made.signature).toBe('likePost(source: LikeSource!)');
    expect(made.typeDefs).toBe('enum LikeSource {\n  web\n}');
  });

  it('maps a string literal to an enum of one value, a union of string literals to an enum', () => {
    const made = mutationFor('act', z.object({ kind: z.literal('refund'), mode: z.union([z.literal('fast'), z.literal('slow')]) }));
    expect(made.signature).toBe('act(kind: ActKind!, mode: ActMode!)');
    expect(made.typeDefs).toBe('enum ActKind {\n  refund\n}\n\nenum ActMode {\n  fast\n  slow\n}');
  });

  it('maps number and boolean literals to their scalars', () => {
    expect(signature(z.object({ v: z.literal(2), f: z.literal([1.5, 2]), yes: z.literal(true) }))).toBe('act(v: Int!, f: Float!, yes: Boolean!)');
  });

  it('lets the caller map an enum to String', () => {
    expect(signature(z.object({ state: z.enum(['in-progress', 'done']) }), { scalars: { state: 'String' } })).toBe('act(state: String!)');
  });
});

describe('lists and objects', () => {
  it('maps arrays to lists, with nullable items where zod takes null', () => {
    expect(signature(z.object({ tags: z.array(z.string()), maybe: z.array(z.string().nullable()).optional() }))).toBe(
      'act(tags: [String!]!, maybe: [String])',
    );
  });

  it('maps nested objects to input types named <Mutation><Field>Input, deeper ones by their path', () => {
    const data = z.object({ lines: z.array(z.object({ sku: z.string(), address: z.object({ city: z.string() }).optional() })).min(1) });
    const made = mutationFor('placeOrder', data);
    expect(made.signature).toBe('placeOrder(lines: [PlaceOrderLinesInput!]!)');
    expect(made.typeDefs).toBe(
      'input PlaceOrderLinesAddressInput {\n  city: String!\n}\n\ninput PlaceOrderLinesInput {\n  sku: String!\n  address: PlaceOrderLinesAddressInput\n}',
    );
  });

  it('takes input type names from the caller', () => {
    const made = mutationFor('placeOrder', z.object({ lines: z.array(z.object({ sku: z.string() })) }), { typeNames: { lines: 'OrderLineInput' } });
    expect(made.signature).toBe('placeOrder(lines: [OrderLineInput!]!)');
  });

  it('has no parentheses for a command without data', () => {
    expect(mutationFor('closeAccount', z.object({})).signature).toBe('closeAccount');
  });
});

describe('optional, nullable, default', () => {
  it('makes optional, nullable, nullish and defaulted fields nullable arguments', () => {
    const data = z.object({ a: z.string().optional(), b: z.string().nullable(), c: z.string().nullish(), d: z.string().default('x'), e: z.string().optional().nonoptional() });
    expect(signature(data)).toBe('act(a: String, b: String, c: String, d: String = "x", e: String!)');
  });

  it('renders defaults GraphQL can print: enums, numbers, booleans, lists, objects', () => {
    const data = z.object({
      source: z.enum(['web', 'api']).default('web'),
      page: z.number().int().default(1),
      strict: z.boolean().default(false),
      tags: z.array(z.string()).default(['a']),
      range: z.object({ from: z.number() }).default({ from: 0 }),
    });
    expect(signature(data)).toBe('act(source: ActSource = web, page: Int = 1, strict: Boolean = false, tags: [String!] = ["a"], range: ActRangeInput = {from: 0})');
  });

  it('does not render a default that zod would change if a client sent it', () => {
    // ' x ' sent by GraphQL would be trimmed by zod, unlike zod's own default: leave it to zod.
    expect(signature(z.object({ name: z.string().trim().default(' x ') }))).toBe('act(name: String)');
  });
});

describe('the derived SDL', () => {
  it('builds into a schema with graphql buildSchema', () => {
    const made = mutationFor('placeOrder', z.object({ orderId: z.string(), lines: z.array(z.object({ kind: z.enum(['a', 'b']) })) }));
    const schema = buildSchema([made.typeDefs, 'type Query { ok: Boolean }', `type Mutation { ${made.signature}: Boolean }`].join('\n'));
    expect(Object.keys(schema.getMutationType()!.getFields())).toEqual(['placeOrder']);
  });

  it('merges the types of several mutations, once each', () => {
    const line = z.object({ sku: z.string() });
    const options = { typeNames: { lines: 'LineInput' } };
    const a = mutationFor('a', z.object({ lines: z.array(line) }), options);
    const b = mutationFor('b', z.object({ lines: z.array(line).optional() }), options);
    expect(mergeTypeDefs([a, b])).toBe('input LineInput {\n  sku: String!\n}');
  });
});

describe('toCommand', () => {
  // The args a resolver receives are graphql-js's, so they are produced by executing a query.
  async function argsOf(made: CommandMutation, call: string): Promise<Readonly<Record<string, unknown>>> {
    let received: Record<string, unknown> = {};
    const schema = buildSchema([made.typeDefs, 'type Query { ok: Boolean }', `type Mutation { ${made.signature}: Boolean }`].join('\n'));
    const rootValue = { [made.name]: (args: Record<string, unknown>) => ((received = args), true) };
    const result = await graphql({ schema, source: `mutation { ${call} }`, rootValue });
    expect(result.errors).toBeUndefined();
    return received;
  }

  const data = z.object({
    postId: z.string(),
    note: z.string().optional(),
    reply: z.string().nullable(),
    source: z.enum(['web', 'api']).default('web'),
    lines: z.array(z.object({ sku: z.string(), gift: z.boolean().optional() })).optional(),
    labels: z.array(z.string().optional()).optional(),
  });

  it('gives data zod accepts: null dropped where zod wants absence, absence as null where zod wants null', async () => {
    const made = mutationFor('act', data);
    const args = await argsOf(made, 'act(postId: "p", note: null, lines: [{ sku: "s", gift: null }], labels: [null, "a"])');
    const { data: command } = made.toCommand(args);
    const expected = { postId: 'p', reply: null, source: 'web', lines: [{ sku: 's' }], labels: [undefined, 'a'] };
    expect(command).toStrictEqual(expected);
    expect(data.parse(command)).toStrictEqual(expected);
  });

  it('returns the aggregate id from a field of the data', async () => {
    const made = mutationFor('act', data, { aggregateId: 'postId' });
    expect(made.toCommand(await argsOf(made, 'act(postId: "p", reply: "r")'))).toEqual({
      aggregateId: 'p',
      data: { postId: 'p', reply: 'r', source: 'web' },
    });
  });

  it('returns the aggregate id from an extra argument, left out of the data', async () => {
    const made = mutationFor('deposit', z.object({ amount: z.number().int().positive() }), { aggregateId: 'accountId' });
    expect(made.signature).toBe('deposit(accountId: ID!, amount: Int!)');
    expect(made.toCommand(await argsOf(made, 'deposit(accountId: 42, amount: 5)'))).toEqual({ aggregateId: '42', data: { amount: 5 } });
  });
});
