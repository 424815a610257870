import { describe, expect, it } from 'vitest';
import type { ServiceContext } from '../../src/server/service-options.js';
import { createTestStore } from '../setup/database.js';
import { postGraphQL, stalledUpload, startService, type GraphQLAnswer } from './support/http.js';

// Every limit answers a clean 4xx (or 503 for time) with a JSON error and a code, over real HTTP.
const store = await createTestStore('server_limits');

const schema = `
  type Query { hello: String, node: Node, wait(ms: Int!): String }
  type Node { id: ID, child: Node }
`;
const resolvers = {
  Query: {
    hello: () => 'world',
    node: () => ({ id: '1' }),
    wait: async (_root: unknown, { ms }: { ms: number }, context: ServiceContext) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return context.signal.aborted ? 'aborted' : 'waited';
    },
  },
  Node: { child: (node: { id: string }) => ({ id: `${node.id}.1` }) },
};

/** `{ node { child { child { … id } } } }`, `depth` fields deep. */
function nested(depth: number): string {
  let selection = 'id';
  for (let level = 1; level < depth; level++) selection = `${level === depth - 1 ? 'node' : 'child'} { ${selection} }`;
  return `{ ${selection} }`;
}

describe('request limits', () => {
  it('malformed JSON: 400 INVALID_JSON', async () => {
    const { url } = await startService({ store, schema, resolvers });
    const { status, body } = await postGraphQL(url, '{"query": "{ hello }"');
    expect(status).toBe(400);
    expect(body).toEqual({ errors: [{ message: expect.stringContaining('not valid JSON'), extensions: { code: 'INVALID_JSON' } }] });
    // The same for GET's variables, which travel as JSON in the query string.
    const get = await fetch(`${url}/graphql?query=${encodeURIComponent('{ hello }')}&variables=${encodeURIComponent('{"a":')}`);
    expect(get.status).toBe(400);
    expect(await get.json()).toEqual({ errors: [expect.objectContaining({ extensions: { code: 'INVALID_JSON' } })] });
  });

  it('a body over bodyLimitBytes: 413 BODY_TOO_LARGE, and one under it passes', async () => {
    const { url } = await startService({ store, schema, resolvers, limits: { bodyLimitBytes: 1000 } });
    const padding = ' '.repeat(1000);
    const { status, body } = await postGraphQL(url, `{"query": "{ hello }"${padding}}`);
    expect(status).toBe(413);
    expect(body).toEqual({ errors: [{ message: 'Request body is too large', extensions: { code: 'BODY_TOO_LARGE' } }] });
    expect((await postGraphQL(url, { query: '{ hello }' })).body).toEqual({ data: { hello: 'world' } });
  });

  it('a query deeper than queryDepth: 400 QUERY_TOO_DEEP, and one at the limit passes', async () => {
    const { url } = await startService({ store, schema, resolvers, limits: { queryDepth: 4 } });
    const deep = await postGraphQL(url, { query: nested(5) });
    expect(deep.status).toBe(400);
    expect(deep.body).toEqual({
      errors: [{ message: 'unnamedQuery query depth (5) exceeds the query depth limit of 4', extensions: { code: 'QUERY_TOO_DEEP' } }],
    });
    expect((await postGraphQL(url, { query: nested(4) })).body).toEqual({ data: { node: { child: { child: { id: '1.1.1' } } } } });
  });

  it('the default depth limit (10) refuses the recursive abuse', async () => {
    const { url } = await startService({ store, schema, resolvers });
    expect((await postGraphQL(url, { query: nested(11) })).body.errors?.[0]?.extensions.code).toBe('QUERY_TOO_DEEP');
    expect((await postGraphQL(url, { query: nested(10) })).status).toBe(200);
  });

  it('a query of more tokens than maxQueryTokens: 400 QUERY_TOO_LARGE, before it is validated', async () => {
    const { url } = await startService({ store, schema, resolvers, limits: { maxQueryTokens: 100 } });
    const { status, body } = await postGraphQL(url, { query: `{ ${'hello '.repeat(200)}}` });
    expect(status).toBe(400);
    expect(body).toEqual({ errors: [{ message: 'the query has more than 100 tokens; send a smaller one', extensions: { code: 'QUERY_TOO_LARGE' } }] });
  });

  it('a batch, batching being off by default: 400 BATCHED_QUERIES_DISABLED', async () => {
    const { url } = await startService({ store, schema, resolvers });
    const { status, body } = await postGraphQL(url, [{ query: '{ hello }' }, { query: '{ hello }' }]);
    expect(status).toBe(400);
    expect(body).toEqual({
      errors: [{ message: 'batched queries are not accepted: send one operation per request', extensions: { code: 'BATCHED_QUERIES_DISABLED' } }],
    });
  });

  it('with maxBatchedQueries, a batch up to it runs and a larger one is 400 TOO_MANY_BATCHED_QUERIES', async () => {
    const { url } = await startService({ store, schema, resolvers, limits: { maxBatchedQueries: 2 } });
    const allowed = await postGraphQL<GraphQLAnswer[]>(url, [{ query: '{ hello }' }, { query: '{ node { id } }' }]);
    expect(allowed.status).toBe(200);
    expect(allowed.body).toEqual([{ data: { hello: 'world' } }, { data: { node: { id: '1' } } }]);
    const tooMany = await postGraphQL(url, [{ query: '{ hello }' }, { query: '{ hello }' }, { query: '{ hello }' }]);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.errors?.[0]?.extensions.code).toBe('TOO_MANY_BATCHED_QUERIES');
  });

  it('a body that is not JSON nor GraphQL: 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const { url } = await startService({ store, schema, resolvers });
    const { status, body } = await postGraphQL(url, '<query/>', { 'content-type': 'application/xml' });
    expect(status).toBe(415);
    expect(body.errors?.[0]?.extensions.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('a JSON body that is not a GraphQL request: 400 BAD_REQUEST', async () => {
    const { url } = await startService({ store, schema, resolvers });
    const { status, body } = await postGraphQL(url, '"just a string"');
    expect(status).toBe(400);
    expect(body.errors?.[0]?.extensions.code).toBe('BAD_REQUEST');
  });
});

describe('request timeout', () => {
  it('a resolver past requestTimeoutMs: 503 REQUEST_TIMEOUT, and its signal aborts with the reason', async () => {
    let reason: unknown;
    const { url } = await startService({
      store,
      schema,
      resolvers: {
        Query: {
          // Waits for as long as it takes: only the deadline ends it.
          wait: (_root: unknown, _args: unknown, context: ServiceContext) =>
            new Promise((resolve) =>
              context.signal.addEventListener('abort', () => {
                reason = context.signal.reason;
                resolve('aborted');
              }),
            ),
        },
      },
      limits: { requestTimeoutMs: 300 },
    });
    // The resolver would answer 200 after 5 s: the 503 is the timeout's.
    const { status, body, headers } = await postGraphQL(url, { query: '{ wait(ms: 5000) }' });
    expect(status).toBe(503);
    expect(headers.get('connection')).toBe('close');
    expect(body).toEqual({
      errors: [{ message: 'the request took longer than 300 ms and was abandoned; retry it later', extensions: { code: 'REQUEST_TIMEOUT' } }],
    });
    expect(reason).toMatchObject({ name: 'RequestTimeoutError', code: 'REQUEST_TIMEOUT', timeoutMs: 300 });
  });

  it('a request within the timeout is answered, its signal never aborted', async () => {
    const { url } = await startService({ store, schema, resolvers, limits: { requestTimeoutMs: 2000 } });
    expect((await postGraphQL(url, { query: '{ wait(ms: 50) }' })).body).toEqual({ data: { wait: 'waited' } });
  });

  it('a client that stalls while uploading its body gets a 503 REQUEST_TIMEOUT too', async () => {
    const { url } = await startService({ store, schema, resolvers, limits: { requestTimeoutMs: 300 } });
    const { status, body } = await stalledUpload(url, 100);
    expect(status).toBe(503);
    expect(JSON.parse(body)).toEqual({ errors: [expect.objectContaining({ extensions: { code: 'REQUEST_TIMEOUT' } })] });
  });
});

describe('introspection and GraphiQL', () => {
  const introspection = { query: '{ __schema { queryType { name } } }' };

  it('are on in development', async () => {
    const { url } = await startService({ store, schema, resolvers, environment: 'development' });
    expect((await postGraphQL(url, introspection)).body).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
    const graphiql = await fetch(`${url}/graphiql`);
    expect(graphiql.status).toBe(200);
    expect(await graphiql.text()).toContain('GraphiQL');
  });

  it('are off in production: introspection is 400 INTROSPECTION_DISABLED, /graphiql is 404; __typename still works', async () => {
    const { url } = await startService({ store, schema, resolvers, environment: 'production' });
    const refused = await postGraphQL(url, introspection);
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual({
      errors: [
        {
          message: 'introspection is disabled in production: the query asks for __schema',
          locations: [{ line: 1, column: 3 }],
          extensions: { code: 'INTROSPECTION_DISABLED' },
        },
      ],
    });
    expect((await postGraphQL(url, { query: '{ __type(name: "Query") { name } }' })).body.errors?.[0]?.extensions.code).toBe('INTROSPECTION_DISABLED');
    expect((await fetch(`${url}/graphiql`)).status).toBe(404);
    expect((await postGraphQL(url, { query: '{ __typename hello }' })).body).toEqual({ data: { __typename: 'Query', hello: 'world' } });
  });
});
