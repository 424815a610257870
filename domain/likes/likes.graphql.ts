import { commandMutations } from 'annals/server';
import { postLikes } from './likes.aggregate.js';

/**
 * The likes domain's commands as mutations: `likePost(postId: ID!, userId: ID!, source:
 * LikePostSource)` and `unlikePost(postId: ID!, userId: ID!)`, derived from
 * `likeCommands` (a change there changes them). Each returns `CommandResult { streamId
 * version position }`; `LIKE_ALREADY_LIKED` and `LIKE_NOT_LIKED` reach the client as
 * `extensions.code`.
 *
 * @example
 * ```graphql
 * mutation { likePost(postId: "p1", userId: "ada") { streamId version position } }
 * ```
 */
export const likeMutations = commandMutations(postLikes, {
  LikePost: {
    name: 'likePost',
    aggregateId: 'postId',
    description: 'The user likes the post (once: LIKE_ALREADY_LIKED when they like it already).',
  },
  UnlikePost: {
    name: 'unlikePost',
    aggregateId: 'postId',
    description: 'The user takes back their like (LIKE_NOT_LIKED when there is none).',
  },
});
