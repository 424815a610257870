import { createRequire } from 'node:module';
import { expect, it } from 'vitest';
import type * as GraphQL from 'graphql';
import { createTestStore } from '../setup/database.js';
import { postGraphQL, startService } from './support/http.js';

// The graphql that mercurius loads: its CommonJS build. vitest would give this file the ES
// module build for `import ... from 'graphql'` (vite reads graphql's `module` field), whose
// schemas mercurius cannot use (src/server/graphql-realm.ts). Node gives both the same.
const { GraphQLObjectType, GraphQLSchema, GraphQLString } = createRequire(import.meta.url)('graphql') as typeof GraphQL;

const store = await createTestStore('server_executable_schema');

it('serves an executable GraphQLSchema, resolvers included, with the same context and error mapping', async () => {
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({
      name: 'Query',
      fields: {
        schemaName: { type: GraphQLString, resolve: (_root, _args, context: { store: { schema: string } }) => context.store.schema },
        broken: {
          type: GraphQLString,
          resolve: () => {
            throw new Error('not for clients');
          },
        },
      },
    }),
  });
  const { url } = await startService({ store, schema, environment: 'production' });
  const { body } = await postGraphQL(url, { query: '{ schemaName broken }' });
  expect(body.data).toEqual({ schemaName: store.schema, broken: null });
  expect(body.errors).toEqual([expect.objectContaining({ message: 'Internal server error', extensions: expect.objectContaining({ code: 'INTERNAL_SERVER_ERROR' }) })]);
});
