/**
 * Runs the likes receiver until SIGINT or SIGTERM:
 *
 *   npx tsx examples/likes-receiver/main.ts
 *
 * Settings from the environment (defaults fit docker-compose.yml and `annals outbox relay`):
 * NATS_URL (nats://127.0.0.1:4222), LIKES_STREAM (ANNALS, the
 * NATS publisher's default), LIKES_DURABLE (likes-receiver),
 * LIKES_SUBJECT (annals.post.>), DATABASE_URL (postgres://postgres@127.0.0.1:5432/test),
 * LIKES_SCHEMA (likes_receiver), LIKES_ACK_WAIT_MS (30000).
 */
import { startLikesReceiver, type LikesReceiver, type LikesReceiverOptions } from './likes-receiver.js';

const env = process.env;
const options: LikesReceiverOptions = {
  natsServers: env.NATS_URL ?? 'nats://127.0.0.1:4222',
  stream: env.LIKES_STREAM ?? 'ANNALS',
  durable: env.LIKES_DURABLE ?? 'likes-receiver',
  subject: env.LIKES_SUBJECT ?? 'annals.post.>',
  databaseUrl: env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  schema: env.LIKES_SCHEMA ?? 'likes_receiver',
  ackWaitMs: Number(env.LIKES_ACK_WAIT_MS ?? 30_000),
};

/** The relay creates the stream on its first publish: until then, wait for it. */
async function start(): Promise<LikesReceiver> {
  for (;;) {
    try {
      return await startLikesReceiver(options);
    } catch (error) {
      if (!/stream not found/i.test((error as Error).message)) throw error;
      console.log(JSON.stringify({ msg: `stream '${options.stream}' not found: waiting for the relay to create it` }));
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
  }
}

const receiver = await start();
console.log(JSON.stringify({ msg: 'likes receiver started', counts: await receiver.counts() }));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void receiver.stop().then(async () => process.exit(0));
  });
}
