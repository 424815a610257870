import { randomBytes } from 'node:crypto';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startLikesReceiver, type LikesReceiver, type ReceiverLogger } from '../../examples/likes-receiver/likes-receiver.js';
import { encodeEnvelope } from '../../src/outbox/envelope.js';
import { createInbox } from '../../src/outbox/inbox.js';
import type { OutboxMessage } from '../../src/outbox/message.js';
import { killAllScripts, startScript } from '../setup/child-process.js';
import { eventually, testDatabaseUrl, useTestSchema } from '../setup/database.js';
import { failEveryFifthCountWrite } from './support/receiver-faults.js';

const natsServers = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
// A stream and subjects of this file's own, so nothing else running on the server interferes.
const suffix = randomBytes(4).toString('hex');
const streamName = `LIKES_RECEIVER_${suffix}`;
const subjectRoot = `likes_receiver_${suffix}`;

const schemas = {
  redelivered: useTestSchema('likes_receiver').schema,
  crash: useTestSchema('likes_receiver_crash').schema,
  malformed: useTestSchema('likes_receiver_bad').schema,
};

let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
const db = new pg.Pool({ connectionString: testDatabaseUrl, max: 3 });
const receivers: LikesReceiver[] = [];

beforeAll(async () => {
  nc = await connect({ servers: natsServers });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: streamName, subjects: [`${subjectRoot}.>`] });
});
afterEach(async () => {
  await killAllScripts();
  await Promise.all(receivers.splice(0).map((receiver) => receiver.stop()));
});
afterAll(async () => {
  await jsm?.streams.delete(streamName).catch(() => {});
  await nc?.close();
  await db.end();
});

interface Like {
  message: OutboxMessage;
  delta: number;
}

/**
 * `count` likes and unlikes over a few posts, as the relay would publish them: each
 * unlike takes back an earlier like of the same user, as the aggregate allows.
 */
function likes(test: string, count: number): Like[] {
  const liked = new Map<string, string[]>();
  return Array.from({ length: count }, (_, i) => {
    const postId = `p${i % 7}`;
    const users = liked.get(postId) ?? [];
    liked.set(postId, users);
    const remove = users.length > 0 && i % 3 === 2;
    const userId = remove ? users.shift()! : `u${i}`;
    if (!remove) users.push(userId);
    const type = remove ? 'LikeRemoved' : 'LikeCreated';
    const message: OutboxMessage = {
      id: `${test}-${i}`,
      destination: 'likes',
      key: `post-${postId}`,
      type,
      schemaVersion: 1,
      category: 'post',
      payload: remove ? { postId, userId } : { postId, userId, source: 'web' },
      position: String(i + 1),
      streamId: `post-${postId}`,
      recordedAt: new Date(),
    };
    return { message, delta: remove ? -1 : 1 };
  });
}

/** The receiver's counts must equal this: the fold of the messages, each once. */
function fold(messages: readonly Like[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { message, delta } of messages) {
    const { postId } = message.payload as { postId: string };
    counts[postId] = (counts[postId] ?? 0) + delta;
  }
  return counts;
}

const subjectOf = (test: string, type: string) => `${subjectRoot}.${test}.post.${type}`;

/** Publishes each message `copies(i)` times, with no dedupe id: every copy is stored, as after a relay retry past the duplicate window. */
async function publish(test: string, messages: readonly Like[], copies: (index: number) => number = () => 1): Promise<void> {
  for (const [index, { message }] of messages.entries()) {
    for (let copy = 0; copy < copies(index); copy++) await js.publish(subjectOf(test, message.type), encodeEnvelope(message));
  }
}

/** Resolves once the durable consumer has nothing left to deliver and nothing unacknowledged. */
async function drained(durable: string, timeoutMs = 60_000): Promise<void> {
  await eventually(async () => {
    const info = await jsm.consumers.info(streamName, durable);
    expect({ pending: info.num_pending, unacked: info.num_ack_pending }).toEqual({ pending: 0, unacked: 0 });
  }, timeoutMs);
}

async function inboxSize(schema: string): Promise<number> {
  const { rows } = await db.query(`SELECT count(*)::int AS n FROM "${schema}".inbox`).catch(() => ({ rows: [{ n: 0 }] }));
  return rows[0].n;
}

function capturingLogger(): ReceiverLogger & { lines: { level: string; message: string; fields: object }[] } {
  const lines: { level: string; message: string; fields: object }[] = [];
  const at = (level: string) => (fields: object, message: string) => void lines.push({ level, message, fields });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

async function start(test: string, schema: string, logger: ReceiverLogger): Promise<LikesReceiver> {
  const receiver = await startLikesReceiver({
    natsServers,
    stream: streamName,
    durable: `likes_${test}_${suffix}`,
    subject: `${subjectRoot}.${test}.post.>`,
    databaseUrl: testDatabaseUrl,
    schema,
    // Short, so messages left unacked by a stop come back within the test.
    ackWaitMs: 1_000,
    retryDelayMs: 20,
    logger,
  });
  receivers.push(receiver);
  return receiver;
}

describe('the likes receiver', () => {
  it('counts every like exactly once through duplicates, failed transactions (nak) and a restart mid-stream', async () => {
    const schema = schemas.redelivered;
    const messages = likes('redelivered', 400);
    const logger = capturingLogger();
    const first = await start('redelivered', schema, logger);
    await failEveryFifthCountWrite(db, schema);

    await publish('redelivered', messages.slice(0, 200), (i) => 1 + (i % 3));
    await eventually(async () => expect(await inboxSize(schema)).toBeGreaterThanOrEqual(50), 30_000);
    await first.stop();
    await publish('redelivered', messages.slice(200), (i) => 1 + (i % 2));
    const second = await start('redelivered', schema, logger);

    await drained(`likes_redelivered_${suffix}`);
    expect(await second.counts()).toEqual(fold(messages));
    expect(await inboxSize(schema)).toBe(messages.length);
    expect(logger.lines.some((line) => line.message.startsWith('applying failed'))).toBe(true);
    expect(logger.lines.some((line) => line.message === 'duplicate absorbed')).toBe(true);
  });

  it('counts every like exactly once when its process is killed (SIGKILL) between a commit and its ack', async () => {
    const schema = schemas.crash;
    const messages = likes('crash', 2500);
    const durable = `likes_crash_${suffix}`;
    const env = {
      NATS_URL: natsServers,
      LIKES_STREAM: streamName,
      LIKES_DURABLE: durable,
      LIKES_SUBJECT: `${subjectRoot}.crash.post.>`,
      DATABASE_URL: testDatabaseUrl,
      LIKES_SCHEMA: schema,
      LIKES_ACK_WAIT_MS: '1000',
    };
    // A commit that waits, at COMMIT time, for an advisory lock the test can hold: the
    // receiver is then killed while its transaction is committing, and the commit completes
    // after it died. That message is applied and recorded but never acked: the crash the
    // inbox is for, made certain rather than left to the timing of a kill.
    const holdKey = Number.parseInt(suffix, 16) % 2_000_000_000;
    await createInbox({ schema }).migrate(db);
    await db.query(`
      CREATE FUNCTION "${schema}".hold_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_advisory_xact_lock_shared(${holdKey}); RETURN NULL; END $$;
      CREATE CONSTRAINT TRIGGER hold_commit AFTER INSERT ON "${schema}".inbox DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION "${schema}".hold_commit();
    `);
    let duplicates = 0;
    const countDuplicates = (line: string) => {
      if (line.includes('"duplicate absorbed"')) duplicates++;
    };
    const holder = await db.connect();
    try {
      await publish('crash', messages);
      for (const killAt of [300, 900]) {
        const child = startScript('examples/likes-receiver/main.ts', env, countDuplicates);
        await eventually(async () => expect(await inboxSize(schema)).toBeGreaterThanOrEqual(killAt), 60_000);
        await holder.query('SELECT pg_advisory_lock($1)', [holdKey]);
        await eventually(async () => {
          const { rows } = await db.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted`, [holdKey]);
          expect(rows).toHaveLength(1);
        });
        child.child.kill('SIGKILL');
        await child.exited;
        const committedBefore = await inboxSize(schema);
        await holder.query('SELECT pg_advisory_unlock($1)', [holdKey]);
        // The dead receiver's backend finishes its COMMIT: one more message applied, never acked.
        await eventually(async () => expect(await inboxSize(schema)).toBe(committedBefore + 1));
      }
    } finally {
      holder.release();
    }
    expect(await inboxSize(schema)).toBeLessThan(messages.length);

    const logger = capturingLogger();
    const receiver = await start('crash', schema, logger);
    await drained(durable);
    expect(await receiver.counts()).toEqual(fold(messages));
    expect(await inboxSize(schema)).toBe(messages.length);
    // Each of the two messages committed by a killed receiver came back and was absorbed.
    duplicates += logger.lines.filter((line) => line.message === 'duplicate absorbed').length;
    expect(duplicates).toBeGreaterThanOrEqual(2);
  });

  it('terminates and logs a malformed message, once, and goes on with the next', async () => {
    const schema = schemas.malformed;
    const logger = capturingLogger();
    const receiver = await start('malformed', schema, logger);
    const [before, after] = [likes('malformed-before', 5), likes('malformed-after', 5)];
    await publish('malformed', before);
    await js.publish(subjectOf('malformed', 'LikeCreated'), 'this is not JSON');
    await js.publish(subjectOf('malformed', 'LikeCreated'), JSON.stringify({ type: 'LikeCreated', data: {} }));
    const bad = { ...before[0]!.message, id: 'bad-payload', payload: { postId: '', userId: 'u1' } };
    await js.publish(subjectOf('malformed', 'LikeCreated'), encodeEnvelope(bad));
    // Another event of the category is not malformed: acknowledged and skipped.
    await js.publish(subjectOf('malformed', 'PostRenamed'), encodeEnvelope({ ...bad, id: 'renamed', type: 'PostRenamed', payload: { title: 'x' } }));
    await publish('malformed', after);

    await drained(`likes_malformed_${suffix}`);
    expect(await receiver.counts()).toEqual(fold([...before, ...after]));
    const terminated = logger.lines.filter((line) => line.message.startsWith('terminated'));
    expect(terminated.map((line) => (line.fields as { reason: string }).reason)).toEqual([
      expect.stringMatching(/^bad envelope: body: is not JSON/),
      expect.stringMatching(/^bad envelope: body\.id/),
      expect.stringMatching(/^bad LikeCreated payload in message bad-payload/),
    ]);
    const info = await jsm.consumers.info(streamName, `likes_malformed_${suffix}`);
    expect(info.num_redelivered).toBe(0);
  });
});
