import { describe, expect, it } from 'vitest';
import { runProjections } from '../../src/index.js';
import { postGraphQL } from '../server/support/http.js';
import { likesService } from './support/likes-service.js';

const likes = await likesService('gql_ryw');

const likePost = `mutation Like($postId: ID!, $userId: ID!) { likePost(postId: $postId, userId: $userId) { position } }`;
const postLikes = `query ($id: ID!) { post(id: $id) { likes likedBy { edges { node { id } } } } }`;

// The parts read through readModel, which waits for the position in Annals-Min-Position:
// a client that sends back what its mutation returned sees its write, with workers
// running as in production (no catch-up call), whichever worker and batch apply it.
describe('read your writes through the composed likes schema', () => {
  it('answers each client with its own like, from concurrent clients, while workers project', { timeout: 120_000 }, async () => {
    const url = await likes.start();
    const runner = runProjections(likes.store, likes.projections, { pollIntervalMs: 5_000 });
    try {
      await runner.ready;
      const clients = Array.from({ length: 20 }, (_, i) => `ryw-${i}-${Date.now()}`);
      const answers = await Promise.all(
        clients.map(async (postId) => {
          const liked = await postGraphQL<{ data: { likePost: { position: string } } }>(url, { query: likePost, variables: { postId, userId: 'ada' } });
          const position = liked.body.data.likePost.position;
          return postGraphQL(url, { query: postLikes, variables: { id: postId } }, { 'annals-min-position': position });
        }),
      );
      for (const answer of answers) {
        expect(answer.body.errors).toBeUndefined();
        expect(answer.body.data).toEqual({ post: { likes: 1, likedBy: { edges: [{ node: { id: 'ada' } }] } } });
      }
    } finally {
      await runner.stop();
    }
  });
});
