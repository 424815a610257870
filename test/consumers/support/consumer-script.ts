/**
 * The first runner of the takeover test, as a process of its own so that it can be
 * killed outright (SIGKILL): nothing is released, its leases stay until they run out.
 *
 * ```sh
 * DATABASE_URL=postgres://… ANNALS_SCHEMA=test_x CONSUMER_NAME=… CONSUMER_CATEGORY=… \
 *   HANDLED_TABLE=… WORKER_ID=… LEASE_TTL_MS=1000 node --import tsx test/consumers/support/consumer-script.ts
 * ```
 *
 * It runs takeoverConsumer with `runConsumers` and prints one JSON object per line:
 * `ready` (its runner claimed its share), `batch` (a committed batch, from onBatch),
 * `holding` (inside the batch of an event marked `hold`, its transaction open: it
 * waits there until killed), `log` (a line of the runner's logger). Nothing imports it;
 * nor may it import vitest, directly or not.
 */
import { createEventStore, runConsumers, type ConsumerLogger } from 'annals';
import { print, requiredEnv } from '../../setup/child-script.js';
import { takeoverConsumer } from './takeover-consumer.js';

const plain = (details: object) =>
  Object.fromEntries(Object.entries(details).map(([key, value]) => [key, value instanceof Error ? `${value.name}: ${value.message}` : value]));

const logger: ConsumerLogger = {
  info: (details, message) => print('log', { ...plain(details), level: 'info', message }),
  warn: (details, message) => print('log', { ...plain(details), level: 'warn', message }),
  error: (details, message) => print('log', { ...plain(details), level: 'error', message }),
};

const workerId = requiredEnv('WORKER_ID');
const store = createEventStore({ connectionString: requiredEnv('DATABASE_URL') }, { schema: requiredEnv('ANNALS_SCHEMA') });
const consumer = takeoverConsumer({
  name: requiredEnv('CONSUMER_NAME'),
  category: requiredEnv('CONSUMER_CATEGORY'),
  table: requiredEnv('HANDLED_TABLE'),
  worker: workerId,
  onHold: async (events, partition) => {
    print('holding', { partition, eventIds: events.map((event) => event.id) });
    // Until killed: the batch's transaction stays open, its rows written, uncommitted.
    await new Promise(() => {});
  },
});
const runner = runConsumers(store, [consumer], {
  workerId,
  leaseTtlMs: Number(requiredEnv('LEASE_TTL_MS')),
  pollIntervalMs: 50,
  logger,
  onBatch: (batch) => print('batch', { ...batch }),
});

try {
  await runner.ready;
  print('ready', { worker: runner.workerId, pid: process.pid });
} catch (error) {
  print('log', { level: 'error', message: `failed to start: ${error instanceof Error ? error.message : String(error)}` });
  process.exit(1);
}
