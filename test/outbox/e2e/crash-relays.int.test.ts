import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { EventStore } from '../../../src/index.js';
import { listParkedMessages } from '../../../src/outbox/parked-messages.js';
import { killAllScripts } from '../../setup/child-process.js';
import { createTestStore, eventually } from '../../setup/database.js';
import { RecordingPublisher } from '../support/recording-publisher.js';
import { likesOutbox, type LikesTarget } from './support/likes-outbox.js';
import { appendLikes, readLikesLog } from './support/likes-log.js';
import { startPrivateNats } from '../support/private-nats.js';
import { relayProcesses, type RelayProcess } from './support/relay-processes.js';
import { positionsByKey, storedCount, storedMessages } from './support/stream-contents.js';

const store: EventStore = await createTestStore('e2e_crash');
const nats = await startPrivateNats();
afterEach(() => killAllScripts());
afterAll(() => nats.stop());

const total = 10_000;
const target: LikesTarget = { natsUrl: nats.url, prefix: 'e2e', stream: 'E2E_CRASH' };

describe('two relay processes killed with SIGKILL again and again, publishing to JetStream', () => {
  // Catches: a message lost by a kill (a checkpoint moved before its ack), a message
  // stored twice (a retry that changed its Nats-Msg-Id), a key's messages stored out of
  // log order by a takeover (the next owner starting anywhere but the checkpoint, or two
  // relays publishing one key at once).
  it('stores every message of 10,000 once, each key in log order, while writers append', async () => {
    const relays = relayProcesses({ schema: store.schema, outbox: 'e2e-crash', target });
    const waitFor = (relay: RelayProcess, what: 'ready' | 'holding', timeoutMs = 60_000) =>
      relay.waitUntil(() => relay[what], timeoutMs, (why) => `relay ${relay.name} ${why} before ${what}: ${relay.stderr()}`);
    // Each relay lets 400 publishes through, then hangs on its next one: a kill then cuts a
    // batch whose first messages went out and whose checkpoint has not moved.
    let generation = 0;
    const startSlot = (slot: 'a' | 'b', hold: boolean) => relays.start(`${slot}${generation++}`, hold ? { HOLD_AFTER: '400' } : {});
    const running = { a: startSlot('a', true), b: startSlot('b', true) };
    await Promise.all([waitFor(running.a, 'ready'), waitFor(running.b, 'ready')]);

    const appending = appendLikes(store, { total, posts: 100, writers: 8 });
    for (let round = 0; round < 5; round++) {
      await eventually(async () => expect(running.a.holding || running.b.holding).toBe(true), 60_000);
      const slot = running.a.holding ? 'a' : 'b';
      running[slot].child.kill('SIGKILL');
      expect(await running[slot].exited).toEqual({ code: null, signal: 'SIGKILL' });
      running[slot] = startSlot(slot, round < 4);
      await waitFor(running[slot], 'ready');
    }
    // Then both at once, wherever they are (holding or not), for relays that never hold.
    for (const slot of ['a', 'b'] as const) {
      running[slot].child.kill('SIGKILL');
      await running[slot].exited;
    }
    running.a = startSlot('a', false);
    running.b = startSlot('b', false);
    await appending;

    await eventually(async () => expect(await storedCount(nats.url, target.stream)).toBe(total), 120_000);
    const log = await readLikesLog(store);
    expect(log.ids).toHaveLength(total);
    const stored = await storedMessages(nats.url, target.stream);
    // Exactly the log's messages, each once: every copy sent again was dropped by its id.
    expect(stored.map((message) => message.envelope.id).sort()).toEqual([...log.ids].sort());
    expect(stored.every((message) => message.msgId === message.envelope.id)).toBe(true);
    // Each key in log order: the stream's order per key is the log's.
    expect(positionsByKey(stored)).toEqual(log.positionsByKey);
    // Copies went out (a kill cut batches after some of their messages were acked), and
    // JetStream absorbed them: the stream holds each id once.
    const sentAgain = [...relays.acked.values()].filter((count) => count > 1).length;
    expect(sentAgain).toBeGreaterThan(0);
    expect(await listParkedMessages(store, likesOutbox('e2e-crash', new RecordingPublisher()), { status: 'all' })).toEqual([]);
  }, 180_000);
});
