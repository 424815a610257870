/**
 * Commit-to-broker latency at a steady rate: likes appended one per append on an open
 * loop (a new append every 1/rate s, whether the last one returned or not), and a
 * JetStream consumer reading the stream; the latency of a like is from its append
 * returning (committed) to the consumer receiving its message. Side by side, in windows
 * taken in turn: the outbox relay (a process of its own, default options, woken by the
 * log's notifications) and "publish after commit" (the appender publishes to JetStream
 * itself once the append returned, awaiting the ack: the dual write the outbox replaces,
 * which loses the message when the process dies in between; the floor of what a broker
 * hop costs here).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { EventStore } from '../../src/index.js';
import { encodeEnvelope, parseEnvelope } from '../../src/outbox/envelope.js';
import type { OutboxMessage } from '../../src/outbox/message.js';
import { databaseUrl, now } from '../harness.js';
import type { OutboxSettings } from './outbox-settings.js';

export type LatencyContestant = 'relay' | 'after-commit';

export interface LatencyWindow {
  contestant: LatencyContestant;
  appends: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Appends per second actually made in the window. */
  rate: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Starts the relay process; resolves once it printed `ready`. */
async function startRelay(schema: string, natsUrl: string): Promise<{ stop(): Promise<void> }> {
  const script = fileURLToPath(new URL('./relay-process.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, DATABASE_URL: databaseUrl, ANNALS_SCHEMA: schema, NATS_URL: natsUrl, NATS_PREFIX: 'latency', NATS_STREAM: 'BENCH_LATENCY', OUTBOX_NAME: 'bench-latency' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`the relay process exited with ${code}: ${stderr}`)));
  });
  return {
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Receives the messages of `stream`, calling `seen(userId)` for each. */
async function follow(connection: NatsConnection, stream: string, seen: (userId: string) => void): Promise<{ stop(): Promise<void> }> {
  const consumer = await jetstream(connection).consumers.get(stream);
  const messages = await consumer.consume({ max_messages: 1_000 });
  const done = (async () => {
    for await (const message of messages as AsyncIterable<JsMsg>) seen((parseEnvelope(message.data).data as { userId: string }).userId);
  })();
  return {
    async stop() {
      await messages.close();
      await done;
    },
  };
}

/**
 * Measures every window; the relay process runs throughout (the "after commit" windows
 * append to category `direct`, which the relay does not read).
 */
export async function measureLatency(store: EventStore, natsUrl: string, settings: OutboxSettings): Promise<LatencyWindow[]> {
  const connection = await connect({ servers: natsUrl, noAsyncTraces: true });
  const manager = await jetstreamManager(connection);
  await manager.streams.add({ name: 'BENCH_DIRECT', subjects: ['direct.>'], duplicate_window: 120_000 * 1_000_000 });
  const js = jetstream(connection, { timeout: 5_000 });
  const relay = await startRelay(store.schema, natsUrl);
  const committed = new Map<string, number>();
  const received = new Map<string, number>();
  const seen = (userId: string) => received.set(userId, now());
  const followers = [await follow(connection, 'BENCH_LATENCY', seen), await follow(connection, 'BENCH_DIRECT', seen)];
  let sequence = 0;

  /** Appends at the settings' rate for `seconds`; returns the users appended. */
  async function run(contestant: LatencyContestant, seconds: number): Promise<string[]> {
    const users: string[] = [];
    const interval = 1000 / settings.latencyRate;
    const started = now();
    const count = Math.round(seconds * settings.latencyRate);
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      await sleep(started + i * interval - now());
      const userId = `u${sequence++}`;
      const postId = `p${sequence % 100}`;
      users.push(userId);
      inFlight.push(
        (async () => {
          const category = contestant === 'relay' ? 'post' : 'direct';
          const appended = await store.appendToStream(`${category}-${postId}`, [{ type: 'LikeCreated', data: { postId, userId } }]);
          committed.set(userId, now());
          if (contestant === 'after-commit') {
            const message: OutboxMessage = { id: userId, destination: 'likes', key: `direct-${postId}`, type: 'LikeCreated', schemaVersion: 1, category: 'direct', payload: { postId, userId }, position: String(appended.lastGlobalPosition), streamId: `direct-${postId}`, recordedAt: new Date() };
            await js.publish('direct.direct.LikeCreated', encodeEnvelope(message), { msgID: userId });
          }
        })(),
      );
      if (inFlight.length > 1_000) await Promise.all(inFlight.splice(0));
    }
    await Promise.all(inFlight);
    return users;
  }

  async function arrived(users: readonly string[]): Promise<void> {
    const deadline = now() + 60_000;
    while (users.some((user) => !received.has(user))) {
      if (now() > deadline) throw new Error(`${users.filter((user) => !received.has(user)).length} messages never reached the consumer`);
      await sleep(20);
    }
  }

  const windows: LatencyWindow[] = [];
  try {
    for (const contestant of ['relay', 'after-commit'] as const) await arrived(await run(contestant, settings.latencyWarmupSeconds));
    for (let round = 0; round < settings.latencyRounds; round++) {
      const order: LatencyContestant[] = round % 2 === 0 ? ['relay', 'after-commit'] : ['after-commit', 'relay'];
      for (const contestant of order) {
        const started = now();
        const users = await run(contestant, settings.latencyWindowSeconds);
        const rate = users.length / ((now() - started) / 1000);
        await arrived(users);
        // A message seen before its append returned counts 0: it was visible at the commit.
        const latencies = users.map((user) => Math.max(0, received.get(user)! - committed.get(user)!)).sort((a, b) => a - b);
        const window = { contestant, appends: users.length, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99), maxMs: latencies.at(-1)!, rate };
        windows.push(window);
        console.log(`  latency round ${round + 1}, ${contestant}: p50 ${window.p50Ms.toFixed(2)} ms, p99 ${window.p99Ms.toFixed(2)} ms at ${Math.round(rate)}/s`);
      }
    }
  } finally {
    for (const follower of followers) await follower.stop();
    await relay.stop();
    await connection.close();
  }
  return windows;
}
