import { describe, expect, it } from 'vitest';
import { createTestStore } from '../setup/database.js';
import { postGraphQL, startService } from './support/http.js';

// Documents run compiled (graphql-jit) from their second use, cached by their text: each
// operation of a document must still run under its own name, whatever ran before it.
const store = await createTestStore('server_compiled');

let secretReads = 0;
const schema = 'type Query { a: String, b: String, echo(text: String!): String, secret: String }';
const resolvers = {
  Query: {
    a: () => 'A',
    b: () => 'B',
    echo: (_root: unknown, { text }: { text: string }) => text,
    secret: () => {
      secretReads++;
      return 'leaked';
    },
  },
};
const document = 'query First { a } query Second { b }';

describe('compiled documents', () => {
  it('a document of two operations, sent again and again under either name, runs the one named each time', async () => {
    const { url } = await startService({ store, schema, resolvers });
    const names = ['First', 'First', 'Second', 'First', 'Second', 'Second', 'First'];
    for (const operationName of names) {
      const { status, body } = await postGraphQL(url, { query: document, operationName });
      expect(status).toBe(200);
      expect(body).toEqual({ data: operationName === 'First' ? { a: 'A' } : { b: 'B' } });
    }
    // Over GET too.
    for (const operationName of ['Second', 'First', 'Second']) {
      const response = await fetch(`${url}/graphql?query=${encodeURIComponent(document)}&operationName=${operationName}`);
      expect(await response.json()).toEqual({ data: operationName === 'First' ? { a: 'A' } : { b: 'B' } });
    }
  });

  it('without a name, a document of two operations is refused every time, even after each ran by name', async () => {
    const { url } = await startService({ store, schema, resolvers });
    for (const operationName of ['First', 'Second', 'First', 'Second']) await postGraphQL(url, { query: document, operationName });
    for (let attempt = 0; attempt < 3; attempt++) {
      const { status, body } = await postGraphQL(url, { query: document });
      expect(status).toBe(400);
      expect(body.errors?.[0]?.message).toBe('Must provide operation name if query contains multiple operations.');
    }
  });

  it('in one batch, the same document under both names: each entry its own operation', async () => {
    const { url } = await startService({ store, schema, resolvers, limits: { maxBatchedQueries: 10 } });
    const batch = ['First', 'Second', 'Second', 'First'].map((operationName) => ({ query: document, operationName }));
    for (let round = 0; round < 3; round++) {
      const { status, body } = await postGraphQL<unknown[]>(url, batch);
      expect(status).toBe(200);
      expect(body).toEqual([{ data: { a: 'A' } }, { data: { b: 'B' } }, { data: { b: 'B' } }, { data: { a: 'A' } }]);
    }
  });

  it('an operationName cannot add to the document: one holding a line break and a selection names no operation', async () => {
    const { url } = await startService({ store, schema, resolvers });
    const before = secretReads;
    for (const operationName of ['First\n{ secret }', 'First"\n{ secret }\n#', 'First\r{ secret }']) {
      for (let attempt = 0; attempt < 3; attempt++) {
        const { status, body } = await postGraphQL(url, { query: document, operationName });
        expect(status).toBe(400);
        expect(body.errors?.[0]?.message).toBe(`Unknown operation named "${operationName}".`);
      }
    }
    expect(secretReads).toBe(before);
  });

  it('variables are checked on every run, compiled or not: a missing one is 400, each time', async () => {
    const { url } = await startService({ store, schema, resolvers });
    const query = 'query Echo($text: String!) { echo(text: $text) }';
    for (let attempt = 0; attempt < 4; attempt++) {
      expect((await postGraphQL(url, { query, variables: { text: `t${attempt}` } })).body).toEqual({ data: { echo: `t${attempt}` } });
      const missing = await postGraphQL(url, { query, variables: {} });
      expect(missing.status).toBe(400);
      expect(missing.body.errors?.[0]).toMatchObject({ message: 'Variable "$text" of required type "String!" was not provided.', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    }
  });
});
