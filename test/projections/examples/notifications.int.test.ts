import { catchUpProjections, defineProjection, setupProjection, type EventStore } from 'annals';
import { describe, expect, it } from 'vitest';
import { notificationsProjection, type LikeNotification } from '../../../projections/notifications/notifications.projection.js';
import { createTestStore } from '../../setup/database.js';
import { catchUp, deliverAgain, everyEvent, generationsOf, readModel, seed, seededRandom } from './support/examples.js';
import { likeEventsOf, likesSimulation } from './support/likes-history.js';

const store: EventStore = await createTestStore('ex_notifications');
const likes = likesSimulation(store, seededRandom(seed), { posts: 20, users: 30 });

const sent: LikeNotification[] = [];
const notifications = notificationsProjection({
  send: async (notification) => {
    sent.push(notification);
  },
});

interface Row {
  event_id: string;
  post_id: string;
  user_id: string;
  message: string;
  created_at: Date;
}

/** Folded from the log: one notification per LikeCreated, under the event's id. */
async function expectedInbox(): Promise<Row[]> {
  const inbox = (await likeEventsOf(store))
    .filter((event) => event.type === 'LikeCreated')
    .map((event) => ({
      event_id: event.id,
      post_id: event.data.postId,
      user_id: event.data.userId,
      message: `${event.data.userId} liked your post ${event.data.postId}`,
      created_at: event.recordedAt,
    }));
  return inbox.sort((a, b) => (a.event_id < b.event_id ? -1 : 1));
}

const readInbox = async () => (await readModel<Row>(store, notifications, 'notifications', 'event_id')).sort((a, b) => (a.event_id < b.event_id ? -1 : 1));

/** What was sent, in the inbox's shape and order, to compare with it. */
const sentAsRows = (): Row[] =>
  sent
    .map((n) => ({ event_id: n.eventId, post_id: n.postId, user_id: n.userId, message: n.message, created_at: n.createdAt }))
    .sort((a, b) => (a.event_id < b.event_id ? -1 : 1));

describe(`the notifications projection (SEED=${seed})`, () => {
  it('keeps one inbox row per like and sends each one once', async () => {
    // Set up before the likes: what the log holds when a projection is created is history,
    // which is never sent (the last test).
    await setupProjection(store, notifications);
    await likes.run(200);
    await catchUp(store, [notifications], { batchSize: 30 });
    const expected = await expectedInbox();
    expect(await readInbox()).toEqual(expected);
    expect(sentAsRows()).toEqual(expected);
  });

  it('sends once when the same events are delivered twice, and not again when the worker reaches them', async () => {
    await likes.run(60);
    const sentBefore = sent.length;
    const fresh = (await everyEvent(store, { types: ['LikeCreated'] })).filter((event) => !sent.some((n) => n.eventId === event.id));
    expect(fresh.length).toBeGreaterThan(0);

    await deliverAgain(store, notifications, fresh);
    await deliverAgain(store, notifications, fresh);
    expect(sent.length).toBe(sentBefore + fresh.length);

    // The worker's own checkpoint is still before these events: a third delivery.
    await catchUp(store, [notifications]);
    expect(sent.length).toBe(sentBefore + fresh.length);
    expect(await readInbox()).toEqual(await expectedInbox());
    expect(sentAsRows()).toEqual(await expectedInbox());
  });

  it('sends nothing while a rebuild replays the history, and the rebuilt inbox is the same', async () => {
    const sentBefore = sent.length;
    const v2 = defineProjection({ ...notifications.definition, version: notifications.version + 1 });
    await catchUp(store, [v2], { replayBatchSize: 45 });
    expect(await generationsOf(store, v2)).toEqual([[2, 'live']]);
    expect(sent.length).toBe(sentBefore);
    expect(await readInbox()).toEqual(await expectedInbox());

    // Live again after the switch: new likes are sent.
    await likes.run(30);
    await catchUp(store, [v2]);
    expect(await readInbox()).toEqual(await expectedInbox());
    expect(sentAsRows()).toEqual(await expectedInbox());
  });

  it('sends a like the live generation never reached exactly once from the rebuild, and no history', async () => {
    // The next version is live (the test before): caught up, then likes after its
    // checkpoint and a rebuild to the one after with no worker of the next running. The
    // one after must send those (the next never did), but not the likes sent before.
    await catchUp(store, [defineProjection({ ...notifications.definition, version: notifications.version + 1 })]);
    await likes.run(20);
    const before = sent.length;
    const unsent = (await everyEvent(store, { types: ['LikeCreated'] })).filter((event) => !sent.some((n) => n.eventId === event.id));
    expect(unsent.length).toBeGreaterThan(0);
    const v3 = defineProjection({ ...notifications.definition, version: notifications.version + 2 });
    await catchUp(store, [v3]);
    expect(sent.length).toBe(before + unsent.length);
    expect(sentAsRows()).toEqual(await expectedInbox());

    // A projection deployed on a log that already has likes treats them as history.
    const late: LikeNotification[] = [];
    const lateProjection = defineProjection({
      ...notificationsProjection({ send: async (notification) => void late.push(notification) }).definition,
      name: 'late-notifications',
    });
    await catchUpProjections(store, [lateProjection]);
    expect(late).toEqual([]);
  });
});
