import type { GraphQLError, GraphQLSchema } from 'graphql';

/**
 * Tests of graphql values by shape, not by `instanceof` or graphql's own `isSchema`:
 * graphql 16 ships a CommonJS build (index.js, which Node and mercurius load) and an ES
 * module build (index.mjs, which vite, and so vitest, pick from its `module` field). A
 * process may hold both, and a schema or an error made by one is not an instance of the
 * other's classes (graphql's check even throws "Cannot use GraphQLSchema from another
 * module or realm" outside production). Everything that crosses mercurius (the schema it
 * builds, the errors it hands the formatter) is therefore recognised by what it has.
 */

/** A GraphQLError of either build. */
export function isGraphQLError(value: unknown): value is GraphQLError {
  return value instanceof Error && value.name === 'GraphQLError' && typeof (value as GraphQLError).toJSON === 'function';
}

/** A GraphQLSchema of either build. */
export function isGraphQLSchema(value: unknown): value is GraphQLSchema {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as GraphQLSchema).getQueryType === 'function' &&
    typeof (value as GraphQLSchema).getTypeMap === 'function'
  );
}
