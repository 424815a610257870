import { afterAll, describe, expect, it } from 'vitest';
import type { EventStore } from '../../../src/index.js';
import { listParkedMessages, retryParkedMessage } from '../../../src/outbox/parked-messages.js';
import { createTestStore, eventually } from '../../setup/database.js';
import { relays } from '../support/relay-harness.js';
import { likesOutbox, likesPublisher, type LikesTarget } from './support/likes-outbox.js';
import { likeEvent, readLikesLog } from './support/likes-log.js';
import { startPrivateNats } from '../support/private-nats.js';
import { positionsByKey, storedMessages } from './support/stream-contents.js';

// A small max_payload, so a poison message needs no megabytes; raised later by a restart.
const maxPayload = 4096;
const store: EventStore = await createTestStore('e2e_poison');
const nats = await startPrivateNats({ maxPayload });
const start = relays();
afterAll(() => nats.stop());

const target: LikesTarget = { natsUrl: nats.url, prefix: 'e2e', stream: 'E2E_POISON' };

async function like(postId: string, userId: string): Promise<void> {
  const { streamId, event } = likeEvent('LikeCreated', postId, userId);
  await store.appendToStream(streamId, [event]);
}

const users = async (key: string) =>
  (await storedMessages(nats.url, target.stream)).filter((m) => m.envelope.key === key).map((m) => (m.envelope.data as { userId: string }).userId);

describe('a message over the server max_payload', () => {
  // Catches: a poison message that blocks every key or is dropped (its key's later likes
  // overtaking it), a key held only within one batch, a retry after the limit was raised
  // that publishes the held likes out of order or leaves the key held.
  it('is parked holding only its key, and a retry after the limit is raised releases the key in order', async () => {
    const outbox = likesOutbox('e2e-poison', likesPublisher(target));
    start(store, outbox);
    const huge = 'u'.repeat(maxPayload + 500);
    await like('bad', 'b1');
    await like('bad', huge);
    await like('bad', 'b3');
    for (const user of ['g1', 'g2']) await like('good', user);

    const parked = await eventually(async () => {
      const rows = await listParkedMessages(store, outbox);
      expect(rows.map((row) => row.status)).toEqual(['parked', 'held']);
      return rows;
    }, 30_000);
    expect(parked[0]).toMatchObject({ key: 'post-bad', error: expect.stringContaining(`max_payload of ${maxPayload}`) });
    // Other keys flow; the bad key's later likes wait behind it, and so do new ones.
    await like('bad', 'b4');
    await like('good', 'g3');
    await eventually(async () => expect(await users('post-good')).toEqual(['g1', 'g2', 'g3']), 30_000);
    await eventually(async () => expect((await listParkedMessages(store, outbox)).map((row) => row.status)).toEqual(['parked', 'held', 'held']), 30_000);
    expect(await users('post-bad')).toEqual(['b1']);

    // Raise the limit: the same server, store and stream, a bigger max_payload.
    await nats.kill();
    await nats.start({ maxPayload: 64 * 1024 });
    // The publisher reconnects by itself; until it has, a retry fails again (retryable) and the key stays held.
    await eventually(async () => expect(await retryParkedMessage(store, outbox, parked[0]!.id)).toEqual({ published: 3 }), 30_000);
    expect(await users('post-bad')).toEqual(['b1', huge, 'b3', 'b4']);
    expect(await listParkedMessages(store, outbox)).toEqual([]);

    // Released: the relay publishes the key's next likes itself.
    await like('bad', 'b5');
    await eventually(async () => expect(await users('post-bad')).toEqual(['b1', huge, 'b3', 'b4', 'b5']), 30_000);
    const stored = await storedMessages(nats.url, target.stream);
    expect(positionsByKey(stored)).toEqual((await readLikesLog(store)).positionsByKey);
  });
});
