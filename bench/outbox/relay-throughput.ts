/**
 * Relay throughput: N like events already in the log, published to JetStream by the
 * outbox relay (runOutboxRelay with natsPublisher, its defaults: 4 partitions, 32 lanes
 * each, every publish acknowledged before the checkpoint moves), against a plain
 * @nats-io/jetstream client publishing the same messages (same subjects, bodies, headers
 * and Nats-Msg-Id) with as many publishes in flight, each ack awaited: the practical limit.
 * Each round publishes into a fresh stream of its own on the same private nats-server.
 */
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import type { EventStore, RecordedEvent } from '../../src/index.js';
import { encodeEnvelope } from '../../src/outbox/envelope.js';
import type { OutboxMessage } from '../../src/outbox/message.js';
import { messageIdOf } from '../../src/outbox/message-id.js';
import { fillNatsHeaders } from '../../src/outbox/publishers/nats-publisher.js';
import { runOutboxRelay } from '../../src/outbox/run-outbox-relay.js';
import { likesOutbox, likesPublisher } from '../../test/outbox/e2e/support/likes-outbox.js';
import { storedCount } from '../../test/outbox/e2e/support/stream-contents.js';
import { now } from '../harness.js';
import type { OutboxSettings } from './outbox-settings.js';

/**
 * The relay with its defaults; the relay with batches of `largeBatchSize` (the lever that
 * moves it most); the plain client (the yardstick: no order between messages);
 * and the plain client keeping the relay's promise, one message in flight per key.
 */
export type ThroughputContestant = 'relay' | 'relay-large-batches' | 'plain' | 'plain-per-key';

/** The batch size of the relay's second contestant. */
export const largeBatchSize = 5_000;

export interface ThroughputRound {
  contestant: ThroughputContestant;
  messages: number;
  seconds: number;
  messagesPerSecond: number;
  /** CPU time of this process (user and system) over the round's wall time: below 1, it was waiting part of the time. */
  cpuShare: number;
}

/** The messages the relay makes of the log's likes, for the plain client to send as they are. */
export function messagesOf(events: readonly RecordedEvent[]): OutboxMessage[] {
  return events.map((event) => {
    const data = event.data as { postId: string; userId: string };
    return {
      id: messageIdOf('likes', event.id),
      destination: 'likes',
      key: event.streamId,
      type: event.type,
      schemaVersion: 1,
      category: 'post',
      payload: { postId: data.postId, userId: data.userId },
      position: String(event.globalPosition),
      streamId: event.streamId,
      recordedAt: event.recordedAt,
    };
  });
}

/** The stream of a round, made before its clock starts (file storage, the publisher's dedupe window). */
async function createStream(connection: NatsConnection, name: string, prefix: string): Promise<void> {
  const manager = await jetstreamManager(connection);
  await manager.streams.add({ name, subjects: [`${prefix}.>`], duplicate_window: 120_000 * 1_000_000 });
}

async function deleteStream(connection: NatsConnection, name: string): Promise<void> {
  await (await jetstreamManager(connection)).streams.delete(name).catch(() => {});
}

/** The relay from its start until every message is acknowledged and its checkpoints moved past them. */
async function relayRound(store: EventStore, natsUrl: string, round: number, total: number, settings: OutboxSettings & { batchSize?: number }): Promise<number> {
  const name = `${settings.batchSize === undefined ? 'relay' : 'large'}${round}`;
  const target = { natsUrl, prefix: name, stream: `BENCH_${name.toUpperCase()}` };
  const publisher = likesPublisher(target, { timeoutMs: 5_000 });
  await publisher.ready();
  let published = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const started = now();
  const relay = runOutboxRelay(store, likesOutbox(`bench-${name}`, publisher, { partitions: settings.partitions, ...(settings.batchSize === undefined ? {} : { batchSize: settings.batchSize }) }), {
    concurrency: settings.concurrency,
    onBatch: (batch) => {
      published += batch.events;
      if (published >= total) done();
    },
  });
  await finished;
  const seconds = (now() - started) / 1000;
  await relay.stop();
  const stored = await storedCount(natsUrl, target.stream);
  if (stored !== total) throw new Error(`the relay's stream holds ${stored} messages, not ${total}`);
  return seconds;
}

/**
 * The plain client: `inFlight` publishes at once, each next one sent when an ack comes
 * back. With `perKey`, as the relay must (a message is never published while an earlier
 * one of its key is pending): each worker takes a key and publishes its messages one at a
 * time, in log order, so at most as many are in flight as there are keys.
 */
async function plainRound(natsUrl: string, round: number, messages: readonly OutboxMessage[], inFlight: number, perKey = false): Promise<number> {
  const prefix = perKey ? `plainkey${round}` : `plain${round}`;
  const streamName = perKey ? `BENCH_PLAIN_KEY_${round}` : `BENCH_PLAIN_${round}`;
  // noAsyncTraces, as the relay's publisher connects: no Error objects made per request.
  const connection = await connect({ servers: natsUrl, noAsyncTraces: true });
  try {
    await createStream(connection, streamName, prefix);
    const js: JetStreamClient = jetstream(connection, { timeout: 5_000 });
    let next = 0;
    const started = now();
    const publish = async (message: OutboxMessage) => {
      // The headers made as the relay's publisher makes them, so the yardstick does no extra work of its own.
      const headers = fillNatsHeaders(natsHeaders(), message);
      await js.publish(`${prefix}.post.${message.type}`, encodeEnvelope(message), { headers });
    };
    // Not Map.groupBy: Node 20 lacks it.
    const keys = new Map<string, OutboxMessage[]>();
    for (const message of messages) {
      const own = keys.get(message.key);
      if (own) own.push(message);
      else keys.set(message.key, [message]);
    }
    const byKey = [...keys.values()];
    const worker = perKey
      ? async () => {
          for (let key = next++; key < byKey.length; key = next++) for (const message of byKey[key]!) await publish(message);
        }
      : async () => {
          for (let index = next++; index < messages.length; index = next++) await publish(messages[index]!);
        };
    await Promise.all(Array.from({ length: inFlight }, worker));
    const seconds = (now() - started) / 1000;
    const stored = await storedCount(natsUrl, streamName);
    if (stored !== messages.length) throw new Error(`the plain client's stream holds ${stored} messages, not ${messages.length}`);
    return seconds;
  } finally {
    await connection.close();
  }
}

/** BENCH_OUTBOX_ONLY=relay,plain runs only those (for profiling one contestant). */
function onlyContestants(all: ThroughputContestant[]): ThroughputContestant[] {
  const only = process.env.BENCH_OUTBOX_ONLY?.split(',').map((name) => name.trim());
  return only ? all.filter((contestant) => only.includes(contestant)) : all;
}

/** Rounds of the three, in a rotating order; streams deleted after each round. */
export async function measureThroughput(store: EventStore, natsUrl: string, events: readonly RecordedEvent[], settings: OutboxSettings): Promise<ThroughputRound[]> {
  const messages = messagesOf(events);
  const rounds: ThroughputRound[] = [];
  const admin = await connect({ servers: natsUrl });
  try {
    for (let round = 0; round < settings.rounds; round++) {
      const contestants = onlyContestants(['relay', 'plain', 'relay-large-batches', 'plain-per-key']);
      const order = [...contestants.slice(round % contestants.length), ...contestants.slice(0, round % contestants.length)];
      for (const contestant of order) {
        const cpu = process.cpuUsage();
        const seconds =
          contestant === 'plain' || contestant === 'plain-per-key'
            ? await plainRound(natsUrl, round, messages, settings.partitions * settings.concurrency, contestant === 'plain-per-key')
            : await relayRound(store, natsUrl, round, messages.length, contestant === 'relay' ? settings : { ...settings, batchSize: largeBatchSize });
        const used = process.cpuUsage(cpu);
        rounds.push({ contestant, messages: messages.length, seconds, messagesPerSecond: messages.length / seconds, cpuShare: (used.user + used.system) / 1e6 / seconds });
        console.log(`  round ${round + 1}, ${contestant}: ${Math.round(messages.length / seconds)} messages/s`);
        await deleteStream(admin, { relay: `BENCH_RELAY${round}`, 'relay-large-batches': `BENCH_LARGE${round}`, plain: `BENCH_PLAIN_${round}`, 'plain-per-key': `BENCH_PLAIN_KEY_${round}` }[contestant]);
      }
    }
  } finally {
    await admin.close();
  }
  return rounds;
}
