import { ValidationError } from 'annals';
import { aggregateSpec } from 'annals/testing';
import { describe, it } from 'vitest';
import { AlreadyLiked, NotLiked, postLikes } from '../../../domain/likes/likes.aggregate.js';

const spec = aggregateSpec(postLikes);

const liked = (userId: string, source: 'web' | 'mobile' | 'api' = 'web') =>
  ({ type: 'LikeCreated', data: { postId: 'p1', userId, source } }) as const;
const unliked = (userId: string) => ({ type: 'LikeRemoved', data: { postId: 'p1', userId } }) as const;

describe('liking a post', () => {
  it('records a like, from the web unless the client says otherwise', () => {
    spec.given([]).when({ type: 'LikePost', data: { postId: 'p1', userId: 'ada' } }).then([liked('ada', 'web')]);
    spec.given([]).when({ type: 'LikePost', data: { postId: 'p1', userId: 'ada', source: 'mobile' } }).then([liked('ada', 'mobile')]);
  });

  it('lets every user like the post once', () => {
    spec.given([liked('ada')]).when({ type: 'LikePost', data: { postId: 'p1', userId: 'bob' } }).then([liked('bob')]);
  });

  it('refuses a second like by the same user (LIKE_ALREADY_LIKED)', () => {
    spec
      .given([liked('bob'), liked('ada', 'api')])
      .when({ type: 'LikePost', data: { postId: 'p1', userId: 'ada' } })
      .thenThrows(AlreadyLiked, { code: 'LIKE_ALREADY_LIKED', details: { postId: 'p1', userId: 'ada' } });
  });

  it('lets a user like again after unliking', () => {
    spec.given([liked('ada'), unliked('ada')]).when({ type: 'LikePost', data: { postId: 'p1', userId: 'ada' } }).then([liked('ada')]);
  });
});

describe('unliking a post', () => {
  it('removes the like', () => {
    spec.given([liked('ada'), liked('bob')]).when({ type: 'UnlikePost', data: { postId: 'p1', userId: 'ada' } }).then([unliked('ada')]);
  });

  it('refuses to unlike a post the user never liked (LIKE_NOT_LIKED)', () => {
    spec
      .given([liked('bob')])
      .when({ type: 'UnlikePost', data: { postId: 'p1', userId: 'ada' } })
      .thenThrows(NotLiked, { code: 'LIKE_NOT_LIKED', details: { postId: 'p1', userId: 'ada' } });
  });

  it('refuses to unlike twice (LIKE_NOT_LIKED)', () => {
    spec
      .given([liked('ada'), unliked('ada')])
      .when({ type: 'UnlikePost', data: { postId: 'p1', userId: 'ada' } })
      .thenThrows(NotLiked, { code: 'LIKE_NOT_LIKED' });
  });
});

describe('malformed commands never reach the rules', () => {
  it.each([
    ['an empty post id', { postId: '', userId: 'ada' }, 'command.data.postId'],
    ['a missing user id', { postId: 'p1' }, 'command.data.userId'],
    ['an unknown source', { postId: 'p1', userId: 'ada', source: 'fax' }, 'command.data.source'],
  ])('refuses %s', (_case, data, field) => {
    spec
      .given([])
      .when({ type: 'LikePost', data: data as never })
      .thenThrows(ValidationError, { field });
  });
});
