/**
 * A service on the receiving side of Annals' outbox: it follows the likes published to
 * NATS JetStream (a durable pull consumer) and keeps its own like count per post in its
 * own Postgres schema. The inbox makes JetStream's at-least-once delivery count each like
 * exactly once: a message is acknowledged only after the transaction that applied it (and
 * recorded its id) committed, so a crash in between redelivers it, and the inbox drops
 * the copy. docs/inbox.md walks through it.
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { pino } from 'pino';
import { z } from 'zod';
import { ValidationError } from 'annals';
import { createInbox, parseEnvelope, type Envelope } from 'annals/outbox';

/** What the receiver logs: a pino logger fits (object first, then the message). */
export interface ReceiverLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface LikesReceiverOptions {
  /** NATS server URLs (`nats://127.0.0.1:4222`). */
  natsServers: string | string[];
  /** The JetStream stream the relay publishes to (it creates the stream; the receiver never does). */
  stream: string;
  /** The durable consumer's name: the receiver's place in the stream, kept by JetStream across restarts. */
  durable: string;
  /** Which subjects to follow. Default `annals.post.>` (the relay's `<prefix>.<category>.<type>`). */
  subject?: string;
  /** The receiver's own Postgres. */
  databaseUrl: string;
  /** The receiver's schema there: its `like_counts` and its `inbox` (created if missing). */
  schema: string;
  /** How long JetStream waits for an ack before delivering again. Default 30,000. Used when the consumer is created. */
  ackWaitMs?: number;
  /** After a failed transaction, when to get the message again (its nak delay). Default 1,000. */
  retryDelayMs?: number;
  logger?: ReceiverLogger;
}

export interface LikesReceiver {
  /** Likes per post, as this receiver counted them (read from its database; before `stop`). */
  counts(): Promise<Record<string, number>>;
  /**
   * Stops taking messages, lets the one in hand finish (applied and acked, or not acked at
   * all), then closes the NATS connection and the pool. Messages fetched but not yet
   * handled are not acked: JetStream delivers them again after `ackWaitMs`.
   */
  stop(): Promise<void>;
}

/** The public payload of LikeCreated and LikeRemoved (version 1): more fields may come, these stay. */
const likePayload = z.object({ postId: z.string().min(1), userId: z.string().min(1) });
/** What each type does to a post's count. A Map: a type named `constructor` must not find Object's. */
const deltas = new Map([
  ['LikeCreated', 1],
  ['LikeRemoved', -1],
]);

/** The durable consumer, created on first start; later starts reuse it where it stands. */
async function ensureConsumer(jsm: JetStreamManager, options: LikesReceiverOptions): Promise<void> {
  try {
    await jsm.consumers.info(options.stream, options.durable);
    return;
  } catch (error) {
    if (!/consumer not found/i.test((error as Error).message)) throw error;
  }
  await jsm.consumers.add(options.stream, {
    durable_name: options.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: options.subject ?? 'annals.post.>',
    ack_wait: nanos(options.ackWaitMs ?? 30_000),
    // Unlimited deliveries: a transaction that keeps failing (database down) is retried
    // until it succeeds; messages that can never succeed are terminated instead (below).
    max_deliver: -1,
  });
}

/**
 * Starts the receiver: migrates its schema, creates its durable consumer if missing, and
 * handles messages one at a time, in the order JetStream delivers them.
 *
 * @example
 * ```ts
 * const receiver = await startLikesReceiver({
 *   natsServers: 'nats://127.0.0.1:4222', stream: 'annals', durable: 'likes-receiver',
 *   databaseUrl: 'postgres://postgres@127.0.0.1:5432/receiver', schema: 'likes_receiver',
 * });
 * console.log(await receiver.counts()); // { '42': 3, ... }
 * await receiver.stop();
 * ```
 */
export async function startLikesReceiver(options: LikesReceiverOptions): Promise<LikesReceiver> {
  const logger = options.logger ?? pino({ name: 'likes-receiver' });
  const retryDelayMs = options.retryDelayMs ?? 1_000;
  const schema = `"${options.schema.replaceAll('"', '""')}"`;
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 2 });
  // An idle connection dropped by the server must not crash the process: the next query reconnects.
  pool.on('error', (error) => logger.warn({ error: error.message }, 'database connection lost'));
  const inbox = createInbox({ schema: options.schema });
  const addLikes = `INSERT INTO ${schema}.like_counts (post_id, likes) VALUES ($1, $2)
    ON CONFLICT (post_id) DO UPDATE SET likes = like_counts.likes + excluded.likes`;

  let nc: NatsConnection | undefined;
  let messages: ConsumerMessages;
  try {
    await inbox.migrate(pool);
    await pool.query(`CREATE TABLE IF NOT EXISTS ${schema}.like_counts (post_id text PRIMARY KEY, likes integer NOT NULL)`);
    // Reconnects for ever: a NATS restart pauses the receiver, it does not end it.
    nc = await connect({ servers: options.natsServers, name: `likes-receiver ${options.durable}`, maxReconnectAttempts: -1 });
    await ensureConsumer(await jetstreamManager(nc), options);
    const consumer = await jetstream(nc).consumers.get(options.stream, options.durable);
    messages = await consumer.consume({ max_messages: 100 });
  } catch (error) {
    await nc?.close();
    await pool.end();
    throw error;
  }
  const connection = nc;

  /** A message that can never be applied: terminated (never redelivered), and logged for a person to look at. */
  function terminate(message: JsMsg, reason: string): void {
    logger.warn({ subject: message.subject, streamSequence: message.seq, reason }, 'terminated a message that cannot be applied');
    // No reason passed to term(): servers before 2.10 take `+TERM <reason>` for an
    // unknown reply and redeliver the message for ever. The log line carries the reason.
    message.term();
  }

  async function handle(message: JsMsg): Promise<void> {
    let envelope: Envelope;
    try {
      envelope = parseEnvelope(message.data);
    } catch (error) {
      if (error instanceof ValidationError) return terminate(message, `bad envelope: ${error.message}`);
      throw error;
    }
    const delta = deltas.get(envelope.type);
    if (delta === undefined) {
      // Another event of the category: not ours to count, and not an error.
      message.ack();
      return;
    }
    const like = likePayload.safeParse(envelope.data);
    if (!like.success) {
      const issues = like.error.issues.map((issue) => `${issue.path.join('.') || 'data'}: ${issue.message}`).join('; ');
      return terminate(message, `bad ${envelope.type} payload in message ${envelope.id}: ${issues}`);
    }

    try {
      const outcome = await inbox.receive(pool, envelope.id, (tx) => tx.query(addLikes, [like.data.postId, delta]));
      if (outcome === 'duplicate') logger.info({ messageId: envelope.id, deliveries: message.info.deliveryCount }, 'duplicate absorbed');
    } catch (error) {
      logger.error({ messageId: envelope.id, error: (error as Error).message }, 'applying failed; the message will be delivered again');
      message.nak(retryDelayMs);
      return;
    }
    // Only now: the like and its id are committed. If this ack is lost (or we crash first),
    // JetStream redelivers after ackWaitMs and the inbox finds the id.
    await message.ackAck().catch((error: Error) => logger.warn({ messageId: envelope.id, error: error.message }, 'ack not confirmed'));
  }

  const done = (async () => {
    for await (const message of messages) {
      try {
        await handle(message);
      } catch (error) {
        // A bug or an unexpected failure: leave the message unacked (redelivered later), keep going.
        logger.error({ subject: message.subject, error: (error as Error).message }, 'handling failed');
      }
    }
  })();

  let stopping: Promise<void> | undefined;
  return {
    async counts() {
      const { rows } = await pool.query<{ post_id: string; likes: number }>(`SELECT post_id, likes FROM ${schema}.like_counts ORDER BY post_id`);
      return Object.fromEntries(rows.map((row) => [row.post_id, row.likes]));
    },
    stop() {
      stopping ??= (async () => {
        await messages.close();
        await done;
        await connection.drain();
        await pool.end();
      })();
      return stopping;
    },
  };
}
