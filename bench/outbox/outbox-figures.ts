/** Runs both outbox figures on a private nats-server and fresh schemas of the bench's Postgres. */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { createEventStore, type EventStore } from '../../src/index.js';
import { appendLikes, readLikesLog } from '../../test/outbox/e2e/support/likes-log.js';
import { startPrivateNats } from '../../test/outbox/support/private-nats.js';
import { databaseUrl, dropStoreSchemas, freshName, machineDetails, now, watchSurroundings, type MachineDetails, type Surroundings } from '../harness.js';
import { measureLatency, type LatencyWindow } from './commit-latency.js';
import { outboxSettings, type OutboxSettings } from './outbox-settings.js';
import { measureThroughput, type ThroughputRound } from './relay-throughput.js';
import { commitMeasured } from '../harness.js';

export interface OutboxRun {
  date: Date;
  seconds: number;
  commit: string;
  machine: MachineDetails;
  natsServer: string;
  loadBefore: number[];
  loadAfter: number[];
  surroundings: Surroundings;
  settings: OutboxSettings;
  throughput: ThroughputRound[];
  latency: LatencyWindow[];
}


async function withStore<T>(label: string, work: (store: EventStore) => Promise<T>): Promise<T> {
  const schema = freshName(label);
  const store = createEventStore({ connectionString: databaseUrl, maxConnections: 20 }, { schema });
  try {
    await store.migrate();
    return await work(store);
  } finally {
    await store.close();
    await dropStoreSchemas(schema);
  }
}

export async function runOutboxBench(settings: OutboxSettings = outboxSettings): Promise<OutboxRun> {
  const started = now();
  const date = new Date();
  const loadBefore = os.loadavg();
  const machine = await machineDetails();
  const natsServer = execFileSync('nats-server', ['--version'], { encoding: 'utf8' }).trim();
  console.log(`Outbox figures: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${natsServer}`);
  const nats = await startPrivateNats();
  const watcher = watchSurroundings();
  let surroundings: Surroundings;
  let throughput: ThroughputRound[] = [];
  let latency: LatencyWindow[] = [];
  try {
    throughput = await withStore('outbox_throughput', async (store) => {
      console.log(`Appending ${settings.events} likes on ${settings.posts} posts...`);
      await appendLikes(store, { total: settings.events, posts: settings.posts, writers: 16 });
      const { events } = await readLikesLog(store);
      return measureThroughput(store, nats.url, events, settings);
    });
    latency = await withStore('outbox_latency', (store) => measureLatency(store, nats.url, settings));
  } finally {
    surroundings = await watcher.stop();
    await nats.stop();
  }
  return { date, seconds: (now() - started) / 1000, commit: commitMeasured(), machine, natsServer, loadBefore, loadAfter: os.loadavg(), surroundings, settings, throughput, latency };
}
