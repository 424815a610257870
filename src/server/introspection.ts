import { GraphQLError, type ValidationRule } from 'graphql';
import { ServiceErrorCodes } from './service-errors.js';

/** The two ways into the schema's description; `__typename` is not one. */
const introspectionFields: ReadonlySet<string> = new Set(['__schema', '__type']);

/**
 * Refuses `__schema` and `__type`, with a code: in production the schema is not a map
 * handed to whoever asks. `__typename` stays, as clients (Apollo's, urql's caches) ask for
 * it in every query.
 *
 * graphql's NoSchemaIntrospectionCustomRule does the same by the field's type, with
 * graphql's type tests, which refuse a schema made by the other build of graphql
 * (graphql-realm.ts); the two fields are the only ones of those types, so their names do.
 */
export const noIntrospection: ValidationRule = (context) => ({
  Field(node) {
    if (!introspectionFields.has(node.name.value)) return;
    context.reportError(
      new GraphQLError(`introspection is disabled in production: the query asks for ${node.name.value}`, {
        nodes: node,
        extensions: { code: ServiceErrorCodes.introspectionDisabled },
      }),
    );
  },
});
