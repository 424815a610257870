import Fastify from 'fastify';
import mercurius from 'mercurius';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { composeSchema } from '../../src/graphql/compose-schema.js';
import { checkServiceOptions } from '../../src/server/service-options.js';
import { subscriptionOptions } from '../../src/server/subscriptions/subscription-options.js';
import { eventually } from '../setup/database.js';
import { wsClient } from './support/ws-client.js';
import { exampleParts, postLikesSubscription, subscribersOf, testbed, unique, type PostLikes } from './support/testbed.js';

const bed = await testbed('sub_close');

/**
 * The app as createService builds it, with the app given to subscriptionOptions: its close
 * ends every subscription with 1001 first.
 */
async function serve(shutdownTimeoutMs: number) {
  const store = await bed.newStore();
  const composed = composeSchema(exampleParts);
  const settings = checkServiceOptions({ store, schema: composed.schema, limits: { shutdownTimeoutMs } });
  const app = Fastify();
  const subscription = subscriptionOptions({ app, store, options: {}, settings, authenticate: async () => undefined });
  await app.register(mercurius, { schema: composed.schema, resolvers: composed.resolvers, subscription } as mercurius.MercuriusOptions);
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, store, url };
}

describe('closing the service', () => {
  it('closes every connection with 1001 (going away) and a reason, so clients reconnect elsewhere with their last position', async () => {
    await bed.runWorkers();
    const { app, store, url } = await serve(20_000);
    const subscriptions = [wsClient(url), wsClient(url)].map((client) => client.subscribe<PostLikes>(postLikesSubscription, { p: unique('p') }));
    await Promise.all(subscriptions.map((pushes) => pushes.waitFor((values) => values.length > 0, 'the count now')));
    await app.close();
    await Promise.all(subscriptions.map((pushes) => pushes.waitForEnd()));
    for (const pushes of subscriptions) {
      expect(pushes.closed).toEqual({ code: 1001, reason: 'the service is shutting down: reconnect with after set to the last position received' });
    }
    expect(subscribersOf(store)).toBe(0);
  });

  // A close that waited for ws' own close timeout (30 s) would run past this test's timeout.
  it('does not wait past the shutdown timeout for a client that never answers the close', { timeout: 20_000 }, async () => {
    await bed.runWorkers();
    const { app, store, url } = await serve(500);
    const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    const messages: string[] = [];
    socket.on('message', (data) => messages.push(data.toString()));
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: postLikesSubscription, variables: { p: unique('p') } } }));
    await eventually(async () => expect(messages.some((message) => message.includes('"next"'))).toBe(true));
    // It reads nothing more, so it never sees the close frame nor answers it.
    socket.pause();
    await app.close();
    expect(subscribersOf(store)).toBe(0);
    socket.resume();
    // Cut off (1006: no close frame came back in time), not closed cleanly.
    expect([1001, 1006]).toContain(await closed);
  });
});
