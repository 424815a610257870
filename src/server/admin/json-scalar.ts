import { GraphQLScalarType, Kind, type ValueNode } from 'graphql';

/**
 * `JSON`: any JSON value, as stored (an event's data and metadata). Output as it is; as
 * input (a literal in a query or a variable), any JSON value too.
 */
export const jsonScalar = new GraphQLScalarType({
  name: 'JSON',
  description: 'Any JSON value: an event’s data and metadata, as stored.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (node, variables) => literalValue(node, variables ?? undefined),
});

function literalValue(node: ValueNode, variables: Record<string, unknown> | undefined): unknown {
  switch (node.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
    case Kind.ENUM:
      return node.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return node.values.map((value) => literalValue(value, variables));
    case Kind.OBJECT:
      return Object.fromEntries(node.fields.map((field) => [field.name.value, literalValue(field.value, variables)]));
    case Kind.VARIABLE:
      return variables?.[node.name.value];
  }
}
