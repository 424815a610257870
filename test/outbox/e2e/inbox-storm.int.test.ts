import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startLikesReceiver, type LikesReceiver } from '../../../examples/likes-receiver/likes-receiver.js';
import type { EventStore } from '../../../src/index.js';
import { createTestStore, eventually, testDatabaseUrl, useTestSchema } from '../../setup/database.js';
import { failEveryFifthCountWrite } from '../support/receiver-faults.js';
import { relays } from '../support/relay-harness.js';
import { likesOutbox, likesPublisher, type LikesTarget } from './support/likes-outbox.js';
import { appendLikes, readLikesLog } from './support/likes-log.js';
import { startPrivateNats } from '../support/private-nats.js';
import { storedCount } from './support/stream-contents.js';

const store: EventStore = await createTestStore('e2e_storm');
const receiverSchema = useTestSchema('e2e_storm_receiver').schema;
const nats = await startPrivateNats();
const start = relays();
const db = new pg.Pool({ connectionString: testDatabaseUrl, max: 2 });
const receivers: LikesReceiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((receiver) => receiver.stop()));
});
afterAll(async () => {
  await db.end();
  await nats.stop();
});

// A short duplicate window: the relay sent again from its start, later than that, stores
// every like a second time in the stream, as a relay restored from an old checkpoint would.
const target: LikesTarget = { natsUrl: nats.url, prefix: 'e2e', stream: 'E2E_STORM', duplicateWindowMs: 500 };
/** What the receivers logged, by message: the storm's duplicates and failed transactions show up here. */
const logged = new Map<string, number>();
const counting = (_fields: object, message: string) => void logged.set(message, (logged.get(message) ?? 0) + 1);
const logger = { info: counting, warn: counting, error: counting };
const total = 1_000;

async function startReceiver(): Promise<LikesReceiver> {
  const receiver = await startLikesReceiver({
    natsServers: nats.url,
    stream: target.stream,
    durable: 'likes-receiver',
    subject: 'e2e.post.>',
    databaseUrl: testDatabaseUrl,
    schema: receiverSchema,
    // Short: messages fetched and not acked by a stopped receiver come back within the test.
    ackWaitMs: 1_000,
    retryDelayMs: 20,
    logger,
  });
  receivers.push(receiver);
  return receiver;
}

async function consumerInfo() {
  const connection = await connect({ servers: nats.url });
  try {
    return await (await jetstreamManager(connection)).consumers.info(target.stream, 'likes-receiver');
  } finally {
    await connection.close();
  }
}

async function inboxSize(): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${receiverSchema}".inbox`);
  return rows[0]!.n;
}

describe('relay, JetStream and the likes receiver under a redelivery storm', () => {
  // Catches: a like counted twice (a copy stored by a relay sent again past the dedupe
  // window, a redelivery after a nak or an ack wait, a message handed out again after a
  // restart) or not at all (acked before its transaction committed).
  it('counts exactly the fold of the log', async () => {
    const outbox = likesOutbox('e2e-storm', likesPublisher(target));
    const relay = start(store, outbox);
    await appendLikes(store, { total: total / 2, posts: 20, writers: 4 });
    await eventually(async () => expect(await storedCount(nats.url, target.stream)).toBe(total / 2), 30_000);

    const first = await startReceiver();
    await failEveryFifthCountWrite(db, receiverSchema);
    await appendLikes(store, { total: total / 2, posts: 20, writers: 4, from: total / 2 });
    await eventually(async () => expect(await inboxSize()).toBeGreaterThanOrEqual(200), 30_000);
    // Stopped mid-stream: what it fetched and did not ack comes back to the next one.
    await first.stop();
    receivers.splice(receivers.indexOf(first), 1);
    await eventually(async () => expect(await storedCount(nats.url, target.stream)).toBe(total), 30_000);

    // The relay sent everything again from the start, past the duplicate window: each like twice in the stream.
    await relay.stop();
    await store.withTransaction((tx) => tx.query(`UPDATE "${tx.schema}".consumer_partitions SET position = 0 WHERE consumer = 'outbox:e2e-storm'`));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    start(store, likesOutbox('e2e-storm', likesPublisher(target)));
    const second = await startReceiver();
    await eventually(async () => expect(await storedCount(nats.url, target.stream)).toBe(2 * total), 60_000);

    const log = await readLikesLog(store);
    // Drained: nothing left to deliver, nothing unacknowledged; then nothing can change the counts.
    await eventually(async () => {
      const info = await consumerInfo();
      expect({ pending: info.num_pending, unacked: info.num_ack_pending }).toEqual({ pending: 0, unacked: 0 });
    }, 60_000);
    expect(await inboxSize()).toBe(total);
    expect(await second.counts()).toEqual(log.counts);
    // The storm happened: copies absorbed by the inbox, transactions failed and redelivered.
    expect(logged.get('duplicate absorbed') ?? 0).toBeGreaterThanOrEqual(total);
    expect(logged.get('applying failed; the message will be delivered again') ?? 0).toBeGreaterThan(0);
  }, 180_000);
});
