import { describe, expect, it } from 'vitest';
import { createTestStore } from '../../setup/database.js';
import { startService } from '../support/http.js';
import { wsClient } from '../../subscriptions/support/ws-client.js';
import { apiKeys, counterResolvers, counterSchema, readerKey } from './support/security-fixtures.js';

// requireTokenForReads over websockets: a subscription needs the token a connection_init
// payload carries, as a query needs one over HTTP.
const store = await createTestStore('security_subscriptions');

const schema = `${counterSchema} type Subscription { ping: String! }`;

async function start(requireTokenForReads: boolean) {
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
      },
    },
    security: { apiKeys, requireTokenForReads },
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
