import { describe, expect, it } from 'vitest';
import { graphql, likesService } from './support/likes-service.js';

const likes = await likesService('gql_likes');

const likePost = `mutation Like($postId: ID!, $userId: ID!) { likePost(postId: $postId, userId: $userId) { streamId version position } }`;
const unlikePost = `mutation Unlike($postId: ID!, $userId: ID!) { unlikePost(postId: $postId, userId: $userId) { streamId version position } }`;

describe('the likes mutations over HTTP', () => {
  it('append the like and answer with the stream, its version and the log position of the event', async () => {
    const url = await likes.start();
    const answer = await graphql(url, likePost, { postId: 'm1', userId: 'ada' });
    expect(answer.errors).toBeUndefined();
    const [event] = await likes.store.readStream('post-m1');
    expect(answer.data).toEqual({ likePost: { streamId: 'post-m1', version: 1, position: String(event!.globalPosition) } });
    expect(event).toMatchObject({ type: 'LikeCreated', data: { postId: 'm1', userId: 'ada', source: 'web' } });
  });

  it('then a query answers from the read models, once the projections caught up', async () => {
    const url = await likes.start();
    await graphql(url, likePost, { postId: 'm2', userId: 'ada' });
    await graphql(url, likePost, { postId: 'm2', userId: 'grace' });
    const unliked = await graphql(url, unlikePost, { postId: 'm2', userId: 'ada' });
    expect(unliked.data).toMatchObject({ unlikePost: { streamId: 'post-m2', version: 3 } });
    await likes.catchUp();

    const answer = await graphql(
      url,
      `query ($post: ID!, $user: ID!) {
        post(id: $post) { id likes likedBy { edges { node { id } } pageInfo { hasNextPage } } }
        user(id: $user) { likedPosts { edges { node { id likes } } } notifications { edges { node { postId userId message } } } }
      }`,
      { post: 'm2', user: 'grace' },
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data).toEqual({
      post: { id: 'm2', likes: 1, likedBy: { edges: [{ node: { id: 'grace' } }], pageInfo: { hasNextPage: false } } },
      user: {
        likedPosts: { edges: [{ node: { id: 'm2', likes: 1 } }] },
        notifications: { edges: [{ node: { postId: 'm2', userId: 'grace', message: 'grace liked your post m2' } }] },
      },
    });
  });

  it('take the optional source, derived from the command schema as an enum', async () => {
    const url = await likes.start();
    const answer = await graphql(url, `mutation { likePost(postId: "m3", userId: "ada", source: mobile) { version } }`);
    expect(answer.data).toEqual({ likePost: { version: 1 } });
    const [event] = await likes.store.readStream('post-m3');
    expect(event!.data).toMatchObject({ source: 'mobile' });
  });

  it("stamp the request's correlation id and request id on the events they append", async () => {
    const url = await likes.start();
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-correlation-id': 'checkout-42', 'x-request-id': 'request-7' },
      body: JSON.stringify({ query: likePost, variables: { postId: 'm4', userId: 'ada' } }),
    });
    expect(response.status).toBe(200);
    const [event] = await likes.store.readStream('post-m4');
    expect(event!.metadata).toMatchObject({ correlationId: 'checkout-42', causationId: 'request-7' });
  });

  it('pass a domain error through with its code, on the mutation that failed', async () => {
    const url = await likes.start();
    await graphql(url, likePost, { postId: 'm5', userId: 'ada' });
    const again = await graphql(url, likePost, { postId: 'm5', userId: 'ada' });
    expect(again.status).toBe(200);
    expect(again.data).toBeNull();
    expect(again.errors).toEqual([
      expect.objectContaining({
        message: 'ada already likes post m5',
        path: ['likePost'],
        extensions: { code: 'LIKE_ALREADY_LIKED', details: { postId: 'm5', userId: 'ada' } },
      }),
    ]);
    const notLiked = await graphql(url, unlikePost, { postId: 'm5', userId: 'grace' });
    expect(notLiked.errors?.[0]).toMatchObject({ path: ['unlikePost'], extensions: { code: 'LIKE_NOT_LIKED' } });
    expect(await likes.store.readStream('post-m5')).toHaveLength(1);
  });
});

describe('bad input to a mutation', () => {
  it('an empty postId is BAD_USER_INPUT naming the argument, and nothing is appended', async () => {
    const url = await likes.start();
    const answer = await graphql(url, likePost, { postId: '', userId: 'ada' });
    expect(answer.status).toBe(200);
    expect(answer.errors).toEqual([
      expect.objectContaining({
        path: ['likePost'],
        extensions: { code: 'BAD_USER_INPUT', issues: [{ field: 'postId', reason: expect.stringContaining('>=1') }] },
      }),
    ]);
    expect(await likes.store.getStreamInfo('post-')).toBeNull();
  });

  it('every argument at fault is named', async () => {
    const url = await likes.start();
    const answer = await graphql(url, likePost, { postId: 'x'.repeat(201), userId: '' });
    expect(answer.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      issues: [{ field: 'postId' }, { field: 'userId' }],
    });
  });

  it('a missing postId is refused before anything runs, naming the argument', async () => {
    const url = await likes.start();
    const inline = await graphql(url, `mutation { likePost(userId: "ada") { version } }`);
    expect(inline.status).toBe(400);
    expect(inline.errors).toEqual([
      expect.objectContaining({
        message: 'Field "likePost" argument "postId" of type "ID!" is required, but it was not provided.',
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      }),
    ]);
    const variable = await graphql(url, likePost, { userId: 'ada' });
    expect(variable.status).toBe(400);
    expect(variable.errors).toEqual([
      expect.objectContaining({ message: 'Variable "$postId" of required type "ID!" was not provided.', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }),
    ]);
  });

  it('an unknown source is refused by the enum, naming it', async () => {
    const url = await likes.start();
    const answer = await graphql(url, `mutation { likePost(postId: "m6", userId: "ada", source: fax) { version } }`);
    expect(answer.status).toBe(400);
    expect(answer.errors?.[0]).toMatchObject({ message: expect.stringContaining('LikePostSource'), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
  });
});
