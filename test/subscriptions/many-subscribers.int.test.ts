import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { appendChannel } from '../../src/event-store/postgres/append-channel.js';
import { existingHubOf } from '../../src/server/subscriptions/subscription-hub.js';
import { testDatabaseUrl } from '../setup/database.js';
import { wsClient, type Pushes } from './support/ws-client.js';
import { likePost, postLikesSubscription, testbed, unique, type PostLikes } from './support/testbed.js';

const bed = await testbed('sub_many');

/** The pushes are in increasing position, and each count is exactly the likes of its post at or below its position. */
function expectConsistent(subscription: Pushes<PostLikes>, likedAt: readonly bigint[]): void {
  let previous = -1n;
  for (const { postLikes } of subscription.values) {
    const position = BigInt(postLikes.position);
    expect(position > previous).toBe(true);
    previous = position;
    expect(postLikes.likes).toBe(likedAt.filter((at) => at <= position).length);
  }
}

/** Connections LISTENing on the store's channel now (their last statement was the LISTEN). */
async function listeners(schema: string): Promise<number> {
  const client = new pg.Client({ connectionString: testDatabaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ count: string }>('SELECT count(*) FROM pg_stat_activity WHERE query = $1', [`LISTEN "${appendChannel(schema)}"`]);
    return Number(rows[0]!.count);
  } finally {
    await client.end();
  }
}

describe('many subscribers', () => {
  it('each of 40 subscribers on 4 connections sees its post reach its final count, while 120 likes run at once', async () => {
    await bed.runWorkers();
    const { url } = await bed.startService();
    const posts = Array.from({ length: 8 }, () => unique('p'));
    const clients = Array.from({ length: 4 }, () => wsClient(url));
    const subscriptions = Array.from({ length: 40 }, (_, i) => ({
      post: posts[i % posts.length]!,
      pushes: clients[i % clients.length]!.subscribe<PostLikes>(postLikesSubscription, { p: posts[i % posts.length]! }),
    }));
    await Promise.all(subscriptions.map(({ pushes }) => pushes.waitFor((values) => values.length > 0, 'the count now')));

    const likes = Array.from({ length: 120 }, (_, i) => posts[(i * 7) % posts.length]!);
    const positions = await Promise.all(likes.map((post) => likePost(url, post)));
    const likedAt = new Map(posts.map((post) => [post, positions.filter((_, i) => likes[i] === post)]));

    await Promise.all(
      subscriptions.map(({ post, pushes }) => pushes.waitFor((values) => values.at(-1)?.postLikes.likes === likedAt.get(post)!.length, `${post}'s final count`)),
    );
    for (const { post, pushes } of subscriptions) {
      expectConsistent(pushes, likedAt.get(post)!);
      // The last push is at the post's last like.
      expect(BigInt(pushes.values.at(-1)!.postLikes.position)).toBe(likedAt.get(post)!.reduce((a, b) => (a > b ? a : b)));
    }
  });

  it('two services on one database, each with its own store (two API processes): every subscriber gets every change, whichever service took the mutation', async () => {
    await bed.runWorkers();
    const before = await listeners(bed.store.schema);
    const [storeA, storeB] = [await bed.newStore(), await bed.newStore()];
    const a = await bed.startService({ store: storeA });
    const b = await bed.startService({ store: storeB });
    const posts = [unique('p'), unique('p'), unique('p')];
    const onA = posts.flatMap((post) => [0, 1, 2].map(() => ({ post, pushes: wsClient(a.url).subscribe<PostLikes>(postLikesSubscription, { p: post }) })));
    const onB = posts.flatMap((post) => [0, 1, 2].map(() => ({ post, pushes: wsClient(b.url).subscribe<PostLikes>(postLikesSubscription, { p: post }) })));
    const all = [...onA, ...onB];
    await Promise.all(all.map(({ pushes }) => pushes.waitFor((values) => values.length > 0, 'the count now')));
    // 18 subscribers, 2 processes: 2 more LISTEN connections, one per store and process.
    expect(existingHubOf(storeA)!.listening && existingHubOf(storeB)!.listening).toBe(true);
    expect(await listeners(bed.store.schema)).toBe(before + 2);

    // Likes through both services at once, half each.
    const likes = Array.from({ length: 30 }, (_, i) => ({ post: posts[i % 3]!, via: i % 2 === 0 ? a.url : b.url }));
    const positions = await Promise.all(likes.map(({ post, via }) => likePost(via, post)));
    const likedAt = new Map(posts.map((post) => [post, positions.filter((_, i) => likes[i]!.post === post)]));
    await Promise.all(all.map(({ post, pushes }) => pushes.waitFor((values) => values.at(-1)?.postLikes.likes === 10, `${post} at 10 likes`)));
    for (const { post, pushes } of all) expectConsistent(pushes, likedAt.get(post)!);
  });
});
