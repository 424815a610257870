/**
 * The relay of the latency figure, in a process of its own (as a deployment runs it, and
 * so its work does not share an event loop with the appender and the consumer that time
 * it). Default relay options; prints `ready` once its publisher and partitions are set up.
 *
 * DATABASE_URL, ANNALS_SCHEMA, NATS_URL, NATS_PREFIX, NATS_STREAM, OUTBOX_NAME.
 */
import { createEventStore } from '../../src/index.js';
import { runOutboxRelay } from '../../src/outbox/run-outbox-relay.js';
import { likesOutbox, likesPublisher } from '../../test/outbox/e2e/support/likes-outbox.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const publisher = likesPublisher({ natsUrl: env('NATS_URL'), prefix: env('NATS_PREFIX'), stream: env('NATS_STREAM') }, { timeoutMs: 5_000 });
await publisher.ready();
const store = createEventStore({ connectionString: env('DATABASE_URL') }, { schema: env('ANNALS_SCHEMA') });
const relay = runOutboxRelay(store, likesOutbox(env('OUTBOX_NAME'), publisher));
await relay.ready;
console.log('ready');
process.once('SIGTERM', () => void relay.stop().then(() => store.close()));
