import { afterAll, describe, expect, it } from 'vitest';
import type { EventStore } from '../../../src/index.js';
import type { OutboxMessage, Publisher } from '../../../src/outbox/message.js';
import { listParkedMessages } from '../../../src/outbox/parked-messages.js';
import { createTestStore, eventually } from '../../setup/database.js';
import { relays } from '../support/relay-harness.js';
import { likesOutbox, likesPublisher, type LikesTarget } from './support/likes-outbox.js';
import { appendLikes, readLikesLog } from './support/likes-log.js';
import { startPrivateNats } from '../support/private-nats.js';
import { positionsByKey, storedCount, storedMessages } from './support/stream-contents.js';

const store: EventStore = await createTestStore('e2e_outage');
const nats = await startPrivateNats();
const start = relays();
afterAll(() => nats.stop());

const target: LikesTarget = { natsUrl: nats.url, prefix: 'e2e', stream: 'E2E_OUTAGE' };

/** The real NATS publisher, counting the publishes that failed (the relay's attempts while the server is down). */
function countingFailures(inner: Publisher): Publisher & { failures: number } {
  const counting = {
    kind: inner.kind,
    failures: 0,
    async publish(message: OutboxMessage, options?: { signal?: AbortSignal }) {
      try {
        await inner.publish(message, options);
      } catch (error) {
        counting.failures++;
        throw error;
      }
    },
    close: () => inner.close(),
  };
  return counting;
}

describe('the NATS server down for a while during appends', () => {
  // Catches: appends that fail or wait because the broker is down (the log is the outbox:
  // they must not), messages parked or dropped during the outage, a backlog that does not
  // drain by itself when the server returns, order per key lost on the way.
  it('takes the appends, parks nothing, and drains the backlog in order when the server is back', async () => {
    const publisher = countingFailures(likesPublisher(target));
    const outbox = likesOutbox('e2e-outage', publisher);
    // 3 attempts: an outage far longer than the attempts must still park nothing.
    start(store, outbox, { retries: { attempts: 3, minDelayMs: 10, maxDelayMs: 100 } });

    await appendLikes(store, { total: 500, posts: 20, writers: 4 });
    // Caught up before the kill: no publish of before is in flight when the server dies.
    await eventually(async () => expect(await storedCount(nats.url, target.stream)).toBe(500), 60_000);

    await nats.kill();
    // Appends go on while the broker is away: the log is the outbox.
    await appendLikes(store, { total: 1_000, posts: 20, writers: 4, from: 500 });
    // Retried far past the 3 attempts while down (each of the 20 keys' lanes fails in turn).
    await eventually(async () => expect(publisher.failures).toBeGreaterThanOrEqual(60), 90_000);
    expect(await listParkedMessages(store, outbox, { status: 'all' })).toEqual([]);

    await nats.start();
    await appendLikes(store, { total: 500, posts: 20, writers: 4, from: 1_500 });
    // Until everything is stored, or something was parked (which the outage must not do).
    await eventually(async () => {
      const parked = await listParkedMessages(store, outbox, { status: 'all' });
      if (parked.length === 0) expect(await storedCount(nats.url, target.stream)).toBe(2_000);
    }, 90_000);
    const parked = await listParkedMessages(store, outbox, { status: 'all' });
    expect(parked.filter((row) => row.status === 'parked').map((row) => `${row.key}: ${row.attempts} attempts, ${row.error}`)).toEqual([]);
    expect(parked).toEqual([]);

    const log = await readLikesLog(store);
    const stored = await storedMessages(nats.url, target.stream);
    expect(stored.map((message) => message.envelope.id).sort()).toEqual([...log.ids].sort());
    expect(positionsByKey(stored)).toEqual(log.positionsByKey);
  }, 180_000);
});
