import { afterAll, describe, expect, it } from 'vitest';
import type { EventStore } from '../../../src/index.js';
import { writeMessage } from '../../../src/outbox/write-message.js';
import { createTestStore, eventually } from '../../setup/database.js';
import { relays } from '../support/relay-harness.js';
import { likesOutbox, likesPublisher, type LikesTarget } from './support/likes-outbox.js';
import { likeEvent, readLikesLog } from './support/likes-log.js';
import { startPrivateNats } from '../support/private-nats.js';
import { storedMessages } from './support/stream-contents.js';

const store: EventStore = await createTestStore('e2e_rollback');
const nats = await startPrivateNats();
const start = relays();
afterAll(() => nats.stop());

const target: LikesTarget = { natsUrl: nats.url, prefix: 'e2e', stream: 'E2E_ROLLBACK' };

describe('a transaction rolled back while the relay runs', () => {
  // Catches: a relay that publishes from somewhere the transaction wrote before its
  // commit (a separate outbox table read without the log's visibility rule, an
  // in-memory hook after append), so that a rolled-back like or written message
  // reaches the broker.
  it('publishes nothing of it: the stream holds exactly the committed likes', async () => {
    start(store, likesOutbox('e2e-rollback', likesPublisher(target)));
    const like = (postId: string, userId: string) => likeEvent('LikeCreated', postId, userId);
    const committed = like('p1', 'before');
    await store.appendToStream(committed.streamId, [committed.event]);

    await eventually(async () => expect(await storedMessages(nats.url, target.stream)).toHaveLength(1), 30_000);

    // Open while another like commits behind it (the relay reads that one only once this
    // transaction ended: the log never skips), then rolled back.
    let appended!: () => void;
    let committedBehind!: () => void;
    const open = new Promise<void>((resolve) => (appended = resolve));
    const behind = new Promise<void>((resolve) => (committedBehind = resolve));
    const rolledBack = store
      .withTransaction(async (tx) => {
        const doomed = like('p1', 'rolled-back');
        await tx.appendToStream(doomed.streamId, [doomed.event]);
        await tx.appendToStream(like('p2', 'rolled-back').streamId, [like('p2', 'rolled-back').event]);
        await writeMessage(tx, { destination: 'likes', key: 'post-p1', type: 'LikeCreated', payload: { postId: 'p1', userId: 'written' } });
        appended();
        await behind;
        throw new Error('rolled back on purpose');
      })
      .catch((error: Error) => error);
    await open;
    const during = like('p3', 'during');
    await store.appendToStream(during.streamId, [during.event]);
    committedBehind();
    expect(await rolledBack).toMatchObject({ message: 'rolled back on purpose' });
    // Later likes of the same keys: once they are stored, anything before them would be too.
    for (const postId of ['p1', 'p2']) {
      const after = like(postId, 'after');
      await store.appendToStream(after.streamId, [after.event]);
    }
    await eventually(async () => expect((await storedMessages(nats.url, target.stream)).filter((m) => (m.envelope.data as { userId: string }).userId === 'after')).toHaveLength(2), 30_000);
    await eventually(async () => expect((await storedMessages(nats.url, target.stream)).map((m) => m.envelope.key)).toContain('post-p3'), 30_000);

    const stored = await storedMessages(nats.url, target.stream);
    expect(stored.map((m) => `${m.envelope.key} ${(m.envelope.data as { userId: string }).userId}`).sort()).toEqual(['post-p1 after', 'post-p1 before', 'post-p2 after', 'post-p3 during']);
    expect(stored.map((m) => m.envelope.id).sort()).toEqual((await readLikesLog(store)).ids.sort());
  });
});
