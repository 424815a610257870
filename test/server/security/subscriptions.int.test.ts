import { describe, expect, it } from 'vitest';
import { createTestStore } from '../../setup/database.js';
import { startService } from '../support/http.js';
import { wsClient } from '../../subscriptions/support/ws-client.js';
import { apiKeys, counterResolvers, counterSchema, readerKey } from './support/security-fixtures.js';

// requireTokenForReads over websockets: a subscription needs the token a connection_init
// payload carries, as a query needs one over HTTP.
const store = await createTestStore('security_subscriptions');

const schema = `${counterSchema} type Subscription { ping: String! postPages(first: Int): PostConnection! }`;

async function start(requireTokenForReads: boolean, queryCost?: { maxCost: number }) {
  const { resolvers } = counterResolvers();
  const service = await startService({
    store,
    schema,
    resolvers: {
      ...resolvers,
      Subscription: {
        ping: {
          subscribe: async function* () {
            yield { ping: 'pong' };
          },
        },
        postPages: {
          subscribe: async function* () {
            yield { postPages: { edges: [{ node: { id: '1' } }] } };
          },
        },
      },
      Post: { likedBy: () => ({ edges: [] }) },
    },
    security: { apiKeys, requireTokenForReads, ...(queryCost ? { queryCost } : {}) },
  });
  return service.url;
}

describe('subscriptions under requireTokenForReads', () => {
  it('without a token: refused with UNAUTHENTICATED', async () => {
    const url = await start(true);
    const pushes = wsClient(url).subscribe<{ ping: string }>('subscription { ping }');
    await pushes.waitForEnd();
    expect(pushes.values).toEqual([]);
    expect(pushes.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })]);
  });

  it('with any valid token: served', async () => {
    const url = await start(true);
    const pushes = wsClient(url, { authorization: `Bearer ${readerKey.key}` }).subscribe<{ ping: string }>('subscription { ping }');
    await pushes.waitFor((values) => values.length === 1, 'the ping');
    expect(pushes.values).toEqual([{ ping: 'pong' }]);
  });

  it('public by default', async () => {
    const url = await start(false);
    const pushes = wsClient(url).subscribe<{ ping: string }>('subscription { ping }');
    await pushes.waitFor((values) => values.length === 1, 'the ping');
  });
});

// Subscriptions do not pass through preExecution: the cost limit has a hook of its own.
describe('the query cost limit on subscriptions', () => {
  // postPages 1 + n × (edges 1 + node 1 + likedBy 1 + m × (edges 1 + node 1 + id 1))
  const nested = (n: number | string, m: number) => `{ postPages(first: ${n}) { edges { node { likedBy(first: ${m}) { edges { node { id } } } } } } }`;
  const costOf = (n: number, m: number) => 1 + n * (3 + m * 3);

  it('over maxCost: refused with QUERY_TOO_COMPLEX before it starts, saying the cost and the limit', async () => {
    const url = await start(false, { maxCost: 1000 });
    const pushes = wsClient(url).subscribe(`subscription ${nested(20, 20)}`);
    await pushes.waitForEnd();
    expect(pushes.values).toEqual([]);
    expect(pushes.errors).toEqual([
      expect.objectContaining({
        message: `the query may resolve up to ${costOf(20, 20)} fields, more than the 1000 allowed: ask for smaller pages (first) or fewer nested lists`,
        extensions: expect.objectContaining({ code: 'QUERY_TOO_COMPLEX' }),
      }),
    ]);
  });

  it('at the limit: served', async () => {
    const url = await start(false, { maxCost: costOf(10, 10) });
    const pushes = wsClient(url).subscribe(`subscription ${nested(10, 10)}`);
    await pushes.waitFor((values) => values.length === 1, 'the page');
  });

  it('a page size from a variable counts as its default value', async () => {
    const url = await start(false, { maxCost: 1000 });
    const pushes = wsClient(url).subscribe(`subscription($n: Int = 20) ${nested('$n', 20)}`);
    await pushes.waitForEnd();
    expect(pushes.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'QUERY_TOO_COMPLEX' }) })]);
  });

  it('under the default limit: a small subscription is served', async () => {
    const url = await start(false);
    const pushes = wsClient(url).subscribe<{ ping: string }>('subscription { ping }');
    await pushes.waitFor((values) => values.length === 1, 'the ping');
  });
});
