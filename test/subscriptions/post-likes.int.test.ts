import { describe, expect, it } from 'vitest';
import { waitForProjections } from '../../src/index.js';
import { likeCounts } from '../../projections/like-counts/like-counts.projection.js';
import { wsClient, type Pushes } from './support/ws-client.js';
import { likePost, postLikesSubscription, testbed, unique, type PostLikes } from './support/testbed.js';

const bed = await testbed('sub_likes');

/** Every push of a postLikes subscription: its position as a bigint and its count. */
const pushes = (subscription: Pushes<PostLikes>) =>
  subscription.values.map(({ postLikes }) => ({ position: BigInt(postLikes.position), likes: postLikes.likes }));

/** With one partition, the count pushed at a position is exactly the number of likes at or below it. */
function expectExact(subscription: Pushes<PostLikes>, likedAt: readonly bigint[]): void {
  for (const { position, likes } of pushes(subscription)) expect(likes).toBe(likedAt.filter((at) => at <= position).length);
}

function expectIncreasing(subscription: Pushes<PostLikes>): void {
  const positions = pushes(subscription).map((push) => push.position);
  for (let i = 1; i < positions.length; i++) expect(positions[i]! > positions[i - 1]!).toBe(true);
}

describe('postLikes', () => {
  it('pushes the count now, then the count after each like, once the projection has applied it', async () => {
    await bed.runWorkers();
    const { url } = await bed.startService();
    const post = unique('p');
    const likedAt = [await likePost(url, post)];
    await waitForProjections(bed.store, [likeCounts], likedAt[0]!);
    const subscription = wsClient(url).subscribe<PostLikes>(postLikesSubscription, { p: post });
    await subscription.waitFor((values) => values.length === 1, 'the count now');
    expect(subscription.values[0]!.postLikes.likes).toBe(1);
    for (let i = 0; i < 4; i++) {
      likedAt.push(await likePost(url, post));
      await subscription.waitFor((values) => values.at(-1)?.postLikes.likes === likedAt.length, `${likedAt.length} likes`);
    }
    // Each like was pushed with the position of the like itself: a change, not a poll.
    const live = pushes(subscription).slice(1);
    expect(live.map((push) => push.position)).toEqual(likedAt.slice(1));
    expect(live.map((push) => push.likes)).toEqual([2, 3, 4, 5]);
    expectIncreasing(subscription);
    expectExact(subscription, likedAt);
    expect(subscription.values.every((value) => value.postLikes.postId === post)).toBe(true);
  });

  it('gives a post nobody liked 0 likes first, then its first like', async () => {
    await bed.runWorkers();
    const { url } = await bed.startService();
    const post = unique('p');
    const subscription = wsClient(url).subscribe<PostLikes>(postLikesSubscription, { p: post });
    await subscription.waitFor((values) => values.length === 1, 'the count now');
    expect(subscription.values[0]!.postLikes.likes).toBe(0);
    const at = await likePost(url, post);
    await subscription.waitFor((values) => values.length === 2, 'the first like');
    expect(subscription.values[1]!.postLikes).toEqual({ postId: post, likes: 1, position: at.toString() });
  });

  it('given the last position received, sends what was missed, then live changes: nothing twice, nothing lost', async () => {
    await bed.runWorkers();
    const { url } = await bed.startService();
    const post = unique('p');
    const likedAt: bigint[] = [];
    const first = wsClient(url);
    const before = first.subscribe<PostLikes>(postLikesSubscription, { p: post });
    await before.waitFor((values) => values.length === 1, 'the count now');
    likedAt.push(await likePost(url, post), await likePost(url, post));
    await before.waitFor((values) => values.at(-1)?.postLikes.likes === 2, '2 likes');
    const last = before.values.at(-1)!.postLikes.position;
    await first.close();

    // Missed while away: three likes, which the projection has applied by the time it is back.
    for (let i = 0; i < 3; i++) likedAt.push(await likePost(url, post));
    await waitForProjections(bed.store, [likeCounts], likedAt.at(-1)!);
    const again = wsClient(url).subscribe<PostLikes>(postLikesSubscription, { p: post, a: last });
    await again.waitFor((values) => values.at(-1)?.postLikes.likes === 5, 'the 3 likes missed');
    // The count as of the last like missed, at that like's position; nothing at or below `last`.
    expect(again.values[0]!.postLikes).toEqual({ postId: post, likes: 5, position: likedAt[4]!.toString() });
    likedAt.push(await likePost(url, post));
    await again.waitFor((values) => values.at(-1)?.postLikes.likes === 6, 'the live like after');
    expect(pushes(again).every((push) => push.position > BigInt(last))).toBe(true);
    expectIncreasing(again);
    expectExact(again, likedAt);
  });

  it('given a position after which nothing changed, sends nothing until the next change', async () => {
    await bed.runWorkers();
    const { url } = await bed.startService();
    const post = unique('p');
    const at = await likePost(url, post);
    const probe = wsClient(url).subscribe<PostLikes>(postLikesSubscription, { p: post });
    await probe.waitFor((values) => values.some((value) => value.postLikes.likes === 1), 'the like');
    const quiet = wsClient(url).subscribe<PostLikes>(postLikesSubscription, { p: post, a: at.toString() });
    const next = await likePost(url, post);
    await quiet.waitFor((values) => values.length > 0, 'the next like');
    // Its first push is the like after `after`, not the count it already had.
    expect(quiet.values).toEqual([{ postLikes: { postId: post, likes: 2, position: next.toString() } }]);
  });

  it('refuses bad arguments with BAD_USER_INPUT naming the argument', async () => {
    const { url } = await bed.startService();
    const client = wsClient(url);
    const badAfter = client.subscribe<PostLikes>(postLikesSubscription, { p: 'p1', a: 'abc' });
    const emptyPost = client.subscribe<PostLikes>(postLikesSubscription, { p: '' });
    const negative = client.subscribe<PostLikes>(postLikesSubscription, { p: 'p1', a: '-1' });
    await Promise.all([badAfter.waitForEnd(), emptyPost.waitForEnd(), negative.waitForEnd()]);
    expect(badAfter.errors).toEqual([
      expect.objectContaining({ path: ['postLikes'], extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', issues: [expect.objectContaining({ field: 'after' })] }) }),
    ]);
    expect(badAfter.errors[0]!.message).toMatch(/after.*global position/);
    expect(emptyPost.errors[0]!.extensions).toEqual(expect.objectContaining({ code: 'BAD_USER_INPUT', issues: [{ field: 'postId', reason: 'must not be empty' }] }));
    expect(negative.errors[0]!.extensions?.code).toBe('BAD_USER_INPUT');
    expect(badAfter.values).toEqual([]);
  });

  it('refuses an operation that does not validate, as a query would be (GRAPHQL_VALIDATION_FAILED)', async () => {
    const { url } = await bed.startService();
    const client = wsClient(url);
    const unknownField = client.subscribe('subscription { postLikes(postId: "p1") { likes shares } }');
    const wrongType = client.subscribe('subscription($a: Int) { postLikes(postId: "p1", after: $a) { likes } }', { a: 1 });
    await Promise.all([unknownField.waitForEnd(), wrongType.waitForEnd()]);
    expect(unknownField.errors[0]).toEqual(expect.objectContaining({ extensions: expect.objectContaining({ code: 'GRAPHQL_VALIDATION_FAILED' }) }));
    expect(unknownField.errors[0]!.message).toMatch(/shares/);
    expect(wrongType.errors[0]!.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});
