import { z } from 'zod';
import { upcast, versionedEvent } from 'annals';

/**
 * Version 1 of LikeCreated, as the first release stored it: the post was `post` and
 * there was no `source`. Kept only to read old events.
 */
const likeCreatedV1 = z.object({ post: z.string(), userId: z.string() });

/** Version 2: `post` renamed to `postId`; `source` added (old likes came from the web). */
export const likeCreated = z.object({
  postId: z.string().min(1),
  userId: z.string().min(1),
  source: z.enum(['web', 'mobile', 'api']).default('web'),
});

export const likeRemoved = z.object({
  postId: z.string().min(1),
  userId: z.string().min(1),
});

export const likeEvents = {
  LikeCreated: versionedEvent(likeCreated, [
    upcast(likeCreatedV1, (v1) => ({ postId: v1.post, userId: v1.userId, source: 'web' as const })),
  ]),
  LikeRemoved: likeRemoved,
};
