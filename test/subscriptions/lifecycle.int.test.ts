import { describe, expect, it } from 'vitest';
import { eventually } from '../setup/database.js';
import { wsClient } from './support/ws-client.js';
import { likePost, postLikesSubscription, subscribersOf, testbed, unique, type PostLikes } from './support/testbed.js';
import { existingHubOf } from '../../src/server/subscriptions/subscription-hub.js';

const bed = await testbed('sub_life');

describe('the life of a subscription', () => {
  it('frees what a subscription held when its client stops it, and when the client goes away', async () => {
    await bed.runWorkers();
    const store = await bed.newStore();
    const { url } = await bed.startService({ store });
    const post = unique('p');
    const stopping = wsClient(url);
    const leaving = wsClient(url);
    const staying = wsClient(url);
    const stopped = stopping.subscribe<PostLikes>(postLikesSubscription, { p: post });
    const left = [leaving.subscribe<PostLikes>(postLikesSubscription, { p: post }), leaving.subscribe<PostLikes>(postLikesSubscription, { p: post })];
    const stays = staying.subscribe<PostLikes>(postLikesSubscription, { p: post });
    await Promise.all([stopped, ...left, stays].map((pushes) => pushes.waitFor((values) => values.length > 0, 'the count now')));
    expect(subscribersOf(store)).toBe(4);

    stopped.stop();
    await eventually(async () => expect(subscribersOf(store)).toBe(3));
    await leaving.close();
    await eventually(async () => expect(subscribersOf(store)).toBe(1));

    // The one left is still served.
    await likePost(url, post);
    await stays.waitFor((values) => values.at(-1)?.postLikes.likes === 1, 'the like');
    // And counted, with why the others ended.
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('annals_graphql_subscriptions{field="postLikes"} 1');
    expect(metrics).toContain('annals_graphql_subscriptions_ended_total{field="postLikes",reason="completed"} 1');
    expect(metrics).toContain('annals_graphql_subscriptions_ended_total{field="postLikes",reason="client-gone"} 2');
    await staying.close();
    await eventually(async () => expect(existingHubOf(store)!.feeds).toBe(0));
  });

  it('ends every subscription when the service closes, and close() does not wait on them', async () => {
    await bed.runWorkers();
    const store = await bed.newStore();
    const service = await bed.startService({ store });
    const clients = [wsClient(service.url), wsClient(service.url)];
    const subscriptions = clients.flatMap((client) => [unique('p'), unique('p')].map((post) => client.subscribe<PostLikes>(postLikesSubscription, { p: post })));
    await Promise.all(subscriptions.map((pushes) => pushes.waitFor((values) => values.length > 0, 'the count now')));
    expect(subscribersOf(store)).toBe(4);

    await service.close();
    await Promise.all(subscriptions.map((pushes) => pushes.waitForEnd()));
    await eventually(async () => expect(subscribersOf(store)).toBe(0));
    for (const pushes of subscriptions) expect(pushes.errors).toEqual([]);
  });

  it('refuses a subscription past the most one connection may hold (TOO_MANY_SUBSCRIPTIONS), and takes one again once another ends', async () => {
    const { url } = await bed.startService({ subscriptions: { maxSubscriptionsPerConnection: 3 } });
    const client = wsClient(url);
    const held = [0, 1, 2].map(() => client.subscribe<PostLikes>(postLikesSubscription, { p: unique('p') }));
    await Promise.all(held.map((pushes) => pushes.waitFor((values) => values.length > 0, 'the count now')));
    const refused = client.subscribe<PostLikes>(postLikesSubscription, { p: unique('p') });
    await refused.waitForEnd();
    expect(refused.errors).toEqual([
      expect.objectContaining({ path: ['postLikes'], extensions: expect.objectContaining({ code: 'TOO_MANY_SUBSCRIPTIONS', limit: 3 }) }),
    ]);
    held[0]!.stop();
    // Another connection is not limited by this one's subscriptions, and this one has room again.
    await eventually(async () => {
      const again = client.subscribe<PostLikes>(postLikesSubscription, { p: unique('p') });
      await again.waitFor((values) => values.length > 0, 'the count now', 5000);
    });
  });
});
