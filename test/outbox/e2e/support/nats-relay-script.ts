/**
 * An outbox relay publishing the likes to NATS JetStream, as a process of its own, so a
 * test can kill it outright (SIGKILL): its batch is cut short, its leases stay until they
 * run out, another relay takes its partitions over from their checkpoints.
 *
 * ```sh
 * DATABASE_URL=postgres://… ANNALS_SCHEMA=test_x WORKER_ID=a NATS_URL=nats://127.0.0.1:… \
 *   NATS_PREFIX=e2e NATS_STREAM=E2E [HOLD_AFTER=500] node --import tsx test/outbox/e2e/support/nats-relay-script.ts
 * ```
 *
 * It prints one JSON object per line: `ready`; `acked` with the message id after each
 * publish JetStream acknowledged (a lower bound of what went out: what JetStream got
 * after the last line is not printed); `holding` once HOLD_AFTER publishes started, after
 * which its next publish never returns, so a kill then lands in the middle of a batch.
 * Nothing imports it; nor may it import vitest.
 */
import { createEventStore } from '../../../../src/index.js';
import type { OutboxMessage, Publisher } from '../../../../src/outbox/message.js';
import { runOutboxRelay } from '../../../../src/outbox/run-outbox-relay.js';
import { print, requiredEnv } from '../../../setup/child-script.js';
import { likesOutbox, likesPublisher } from './likes-outbox.js';

const holdAfter = Number(process.env.HOLD_AFTER ?? 'Infinity');
const nats = likesPublisher({ natsUrl: requiredEnv('NATS_URL'), prefix: requiredEnv('NATS_PREFIX'), stream: requiredEnv('NATS_STREAM') });

let started = 0;
const publisher: Publisher = {
  kind: 'nats',
  async publish(message: OutboxMessage, options?: { signal?: AbortSignal }) {
    // Counted on entry: lanes publish concurrently, and at most HOLD_AFTER start.
    if (++started > holdAfter) {
      if (started === holdAfter + 1) print('holding');
      await new Promise(() => {});
    }
    await nats.publish(message, options);
    print('acked', { id: message.id });
  },
  close: () => nats.close(),
};

const store = createEventStore({ connectionString: requiredEnv('DATABASE_URL'), maxConnections: 6 }, { schema: requiredEnv('ANNALS_SCHEMA') });
const relay = runOutboxRelay(store, likesOutbox(requiredEnv('OUTBOX_NAME'), publisher), {
  workerId: requiredEnv('WORKER_ID'),
  pollIntervalMs: 100,
  leaseTtlMs: 1_000,
  retries: { attempts: 5, minDelayMs: 10, maxDelayMs: 200 },
});
await relay.ready;
print('ready');
process.once('SIGTERM', () => void relay.stop().then(() => store.close()));
