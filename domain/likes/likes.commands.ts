import { z } from 'zod';

const ids = { postId: z.string().min(1).max(200), userId: z.string().min(1).max(200) };

export const likeCommands = {
  LikePost: z.object({ ...ids, source: z.enum(['web', 'mobile', 'api']).optional() }),
  UnlikePost: z.object(ids),
};
