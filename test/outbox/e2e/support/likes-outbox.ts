// No vitest import here: the relay script (a child process) and the benchmark use it too.
import { z } from 'zod';
import { defineOutbox, type Outbox } from '../../../../src/outbox/define-outbox.js';
import type { Publisher } from '../../../../src/outbox/message.js';
import { natsPublisher, type NatsPublisher } from '../../../../src/outbox/publishers/index.js';

/** Where a test's likes go: its own subject prefix and stream on a private server. */
export interface LikesTarget {
  natsUrl: string;
  /** Subject prefix: messages go to `<prefix>.post.LikeCreated` and `<prefix>.post.LikeRemoved`. */
  prefix: string;
  /** The JetStream stream the publisher creates (capturing `<prefix>.>`). */
  stream: string;
  /** JetStream's duplicate window (default 120,000, the server's). */
  duplicateWindowMs?: number;
}

/** The NATS publisher of a test: short ack timeout and reconnect wait, so outages are seen and left quickly. */
export function likesPublisher(target: LikesTarget, options: { timeoutMs?: number } = {}): NatsPublisher {
  return natsPublisher({
    servers: target.natsUrl,
    prefix: target.prefix,
    timeoutMs: options.timeoutMs ?? 1_000,
    connectOptions: { reconnectTimeWait: 100 },
    stream: { name: target.stream, ...(target.duplicateWindowMs === undefined ? {} : { duplicateWindowMs: target.duplicateWindowMs }) },
  });
}

/**
 * The likes of posts, published as in the example configuration: LikeCreated and
 * LikeRemoved of category `post`, their public shape `{ postId, userId }`, keyed by the
 * post's stream.
 */
export function likesOutbox(name: string, publisher: Publisher, options: { partitions?: number; batchSize?: number } = {}): Outbox {
  return defineOutbox({
    name,
    partitions: options.partitions ?? 4,
    // The outbox's own default unless given: the bench measures the relay as users get it.
    ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
    destinations: { likes: { publisher } },
    routes: [
      {
        destination: 'likes',
        eventTypes: ['LikeCreated', 'LikeRemoved'],
        categories: ['post'],
        schema: z.object({ postId: z.string(), userId: z.string() }),
        map: (event) => {
          const data = event.data as { postId: string; userId: string };
          return { postId: data.postId, userId: data.userId };
        },
      },
    ],
  });
}
