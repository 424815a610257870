import { describe, expect, it } from 'vitest';
import { createTestStore } from '../../setup/database.js';
import { postGraphQL, startService, type GraphQLAnswer } from '../support/http.js';
import { counterResolvers, counterSchema } from './support/security-fixtures.js';

// The cost limit over real HTTP: refused before anything runs, with 400 QUERY_TOO_COMPLEX.
const store = await createTestStore('security_query_cost');

async function start(queryCost?: { maxCost?: number; defaultListSize?: number } | false, limits = {}) {
  const service = await startService({ store, schema: counterSchema, resolvers: counterResolvers().resolvers, security: queryCost === undefined ? {} : { queryCost }, limits });
  return service.url;
}

// posts 1 + n × (edges 1 + node 1 + likedBy 1 + m × (edges 1 + node 1 + id 1))
const nested = (n: number, m: number) => `{ posts(first: ${n}) { edges { node { likedBy(first: ${m}) { edges { node { id } } } } } } }`;
const costOf = (n: number, m: number) => 1 + n * (3 + m * 3);

describe('query cost limit', () => {
  it('over maxCost: 400 QUERY_TOO_COMPLEX, saying the cost and the limit', async () => {
    const url = await start({ maxCost: 1000 });
    const { status, body } = await postGraphQL(url, { query: nested(20, 20) });
    expect(status).toBe(400);
    expect(body).toEqual({
      errors: [
        {
          message: `the query may resolve up to ${costOf(20, 20)} fields, more than the 1000 allowed: ask for smaller pages (first) or fewer nested lists`,
          extensions: { code: 'QUERY_TOO_COMPLEX' },
        },
      ],
    });
  });

  it('at the limit it runs; first from variables counts the same', async () => {
    const url = await start({ maxCost: costOf(10, 10) });
    expect((await postGraphQL(url, { query: nested(10, 10) })).status).toBe(200);
    const query = 'query ($n: Int) { posts(first: $n) { edges { node { likedBy(first: 10) { edges { node { id } } } } } } }';
    expect((await postGraphQL(url, { query, variables: { n: 10 } })).status).toBe(200);
    expect((await postGraphQL(url, { query, variables: { n: 11 } })).body.errors?.[0]?.extensions.code).toBe('QUERY_TOO_COMPLEX');
  });

  it('a document seen before is measured again by its variables and the operation named, not by what was sent last', async () => {
    const url = await start({ maxCost: costOf(10, 10) });
    // mercurius hands the guard the same parsed document each time the same text comes.
    const query = 'query ($n: Int) { posts(first: $n) { edges { node { likedBy(first: 10) { edges { node { id } } } } } } }';
    for (const n of [11, 10, 11, 10]) {
      const { body } = await postGraphQL(url, { query, variables: { n } });
      expect(body.errors?.[0]?.extensions.code, `first: ${n}`).toBe(n > 10 ? 'QUERY_TOO_COMPLEX' : undefined);
    }
    const two = `query Cheap { likes } query Dear ${nested(20, 20)}`;
    for (const name of ['Cheap', 'Dear', 'Cheap', 'Dear', 'Cheap']) {
      const { body } = await postGraphQL(url, { query: two, operationName: name });
      expect(body.errors?.[0]?.extensions.code, name).toBe(name === 'Dear' ? 'QUERY_TOO_COMPLEX' : undefined);
    }
  });

  it('the default limit (50,000) passes a page of 100 with pages of 100, and refuses a third level', async () => {
    const url = await start();
    expect((await postGraphQL(url, { query: nested(100, 100) })).status).toBe(200);
    // Ten levels, within the depth limit: 1 + 100 × (3 + 100 × (3 + 100 × 3)) = 3,030,301.
    const third = '{ posts(first: 100) { edges { node { likedBy(first: 100) { edges { node { likedBy(first: 100) { edges { node { id } } } } } } } } } }';
    const { status, body } = await postGraphQL(url, { query: third });
    expect(status).toBe(400);
    expect(body.errors?.[0]?.message).toMatch(/^the query may resolve up to 3030301 fields, more than the 50000 allowed/);
  });

  it('in a batch, each operation is measured on its own', async () => {
    const url = await start({ maxCost: 100 }, { maxBatchedQueries: 2 });
    const { body } = await postGraphQL<GraphQLAnswer[]>(url, [{ query: '{ likes }' }, { query: nested(10, 10) }]);
    expect(body[0]).toEqual({ data: { likes: 0 } });
    expect(body[1]?.errors?.[0]?.extensions.code).toBe('QUERY_TOO_COMPLEX');
  });

  it('queryCost: false turns it off', async () => {
    const url = await start(false);
    expect((await postGraphQL(url, { query: nested(1000, 1000) })).status).toBe(200);
  });
});
