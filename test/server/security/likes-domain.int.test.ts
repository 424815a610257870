import { describe, expect, it } from 'vitest';
import { runProjections } from '../../../src/index.js';
import { startService, postGraphQL } from '../support/http.js';
import { likesService } from '../../graphql/support/likes-service.js';
import { apiKeys, bearer, readerKey, writerKey } from './support/security-fixtures.js';

// The likes domain behind API keys, end to end on the real store: the writer's likePost is
// appended and read back with its position; an anonymous or reader's never reaches the log.
const likes = await likesService('security_likes');

const likePost = 'mutation ($postId: ID!, $userId: ID!) { likePost(postId: $postId, userId: $userId) { streamId version position } }';

describe('likePost behind API keys', () => {
  it('refused without a token and to a reader: nothing appended', async () => {
    const { url } = await startService({ store: likes.store, ...likes.composed, security: { apiKeys }, environment: 'production' });
    const anonymous = await postGraphQL(url, { query: likePost, variables: { postId: 's1', userId: 'ada' } });
    expect(anonymous.status).toBe(401);
    const reader = await postGraphQL(url, { query: likePost, variables: { postId: 's1', userId: 'ada' } }, bearer(readerKey.key));
    expect(reader.status).toBe(403);
    expect(await likes.store.readStream('post-s1')).toEqual([]);
  });

  it("a writer's like is appended, and its position reads the like back (read your writes)", async () => {
    const runner = runProjections(likes.store, likes.projections);
    try {
      const { url } = await startService({ store: likes.store, ...likes.composed, security: { apiKeys, requireTokenForReads: true } });
      const liked = await postGraphQL(url, { query: likePost, variables: { postId: 's2', userId: 'grace' } }, bearer(writerKey.key));
      expect(liked.body.errors).toBeUndefined();
      const { position } = (liked.body.data as { likePost: { position: string } }).likePost;
      const [event] = await likes.store.readStream('post-s2');
      expect(String(event!.globalPosition)).toBe(position);
      const read = await postGraphQL(url, { query: '{ post(id: "s2") { likes } }' }, { ...bearer(readerKey.key), 'annals-min-position': position });
      expect(read.body).toEqual({ data: { post: { likes: 1 } } });
    } finally {
      await runner.stop();
    }
  });
});
