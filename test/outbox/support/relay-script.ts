/**
 * An outbox relay as a process of its own, so that a test can kill it outright (SIGKILL):
 * nothing is released, its leases stay until they run out, its batch is cut short.
 *
 * ```sh
 * DATABASE_URL=postgres://… ANNALS_SCHEMA=test_x WORKER_ID=… HOLD_AFTER=50 node --import tsx test/outbox/support/relay-script.ts
 * ```
 *
 * Its publisher is a real one that writes each message to the table `received` of the
 * schema (the receiver's side: what got through, in the order it got through). After
 * HOLD_AFTER messages, its next publish never returns: the process is then in the middle
 * of a batch, some of whose messages went out while its checkpoint has not moved. It
 * prints one JSON object per line: `ready`, `holding`. Nothing imports it; nor may it
 * import vitest.
 */
import pg from 'pg';
import { createEventStore } from '../../../src/index.js';
import type { OutboxMessage, Publisher } from '../../../src/outbox/message.js';
import { runOutboxRelay } from '../../../src/outbox/run-outbox-relay.js';
import { print, requiredEnv } from '../../setup/child-script.js';
import { crashOutbox } from './crash-outbox.js';

const schema = requiredEnv('ANNALS_SCHEMA');
const workerId = requiredEnv('WORKER_ID');
const holdAfter = Number(process.env.HOLD_AFTER ?? 'Infinity');
const pool = new pg.Pool({ connectionString: requiredEnv('DATABASE_URL'), max: 4 });

let started = 0;
const tablePublisher: Publisher = {
  kind: 'table',
  async publish(message: OutboxMessage) {
    // Counted on entry: lanes publish concurrently, and at most HOLD_AFTER go through.
    if (++started > holdAfter) {
      print('holding');
      await new Promise(() => {});
    }
    await pool.query(`INSERT INTO "${schema}".received (message_id, key, position, worker) VALUES ($1, $2, $3, $4)`, [message.id, message.key, message.position, workerId]);
  },
  close: () => pool.end(),
};

const store = createEventStore({ connectionString: requiredEnv('DATABASE_URL'), maxConnections: 6 }, { schema });
const relay = runOutboxRelay(store, crashOutbox(tablePublisher), { workerId, pollIntervalMs: 50, leaseTtlMs: 1000, retries: { attempts: 3, minDelayMs: 1, maxDelayMs: 20 } });
await relay.ready;
print('ready');
process.once('SIGTERM', () => void relay.stop().then(() => store.close()));
