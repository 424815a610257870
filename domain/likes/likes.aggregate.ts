import { defineAggregate, DomainError } from 'annals';
import { likeCommands } from './likes.commands.js';
import { likeEvents } from './likes.events.js';

/** A user likes a post at most once. */
export class AlreadyLiked extends DomainError {
  constructor(postId: string, userId: string) {
    super('LIKE_ALREADY_LIKED', `${userId} already likes post ${postId}`, { postId, userId });
  }
}

/** Unliking needs a like to remove. */
export class NotLiked extends DomainError {
  constructor(postId: string, userId: string) {
    super('LIKE_NOT_LIKED', `${userId} does not like post ${postId}`, { postId, userId });
  }
}

export interface PostLikes {
  postId: string | null;
  /** Users who like the post now. */
  likedBy: string[];
}

/**
 * Likes on one post: stream `post-<postId>`, events LikeCreated / LikeRemoved. The
 * counters, notifications and analytics projections are built from these events.
 */
export const postLikes = defineAggregate({
  category: 'post',
  initialState: (): PostLikes => ({ postId: null, likedBy: [] }),
  events: likeEvents,
  commands: likeCommands,
  evolve: (state, event) => {
    switch (event.type) {
      case 'LikeCreated':
        return { postId: event.data.postId, likedBy: [...state.likedBy, event.data.userId] };
      case 'LikeRemoved':
        return { postId: event.data.postId, likedBy: state.likedBy.filter((user) => user !== event.data.userId) };
    }
  },
  decide: (command, state) => {
    const { postId } = command.data;
    switch (command.type) {
      case 'LikePost':
        if (state.likedBy.includes(command.data.userId)) throw new AlreadyLiked(postId, command.data.userId);
        return { type: 'LikeCreated', data: { postId, userId: command.data.userId, source: command.data.source ?? 'web' } };
      case 'UnlikePost':
        if (!state.likedBy.includes(command.data.userId)) throw new NotLiked(postId, command.data.userId);
        return { type: 'LikeRemoved', data: { postId, userId: command.data.userId } };
    }
  },
  snapshots: { every: 100, version: 1 },
});
