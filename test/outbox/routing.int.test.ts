import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { EventStore } from '../../src/index.js';
import { defineOutbox } from '../../src/outbox/define-outbox.js';
import { messageIdOf } from '../../src/outbox/message-id.js';
import { listParkedMessages } from '../../src/outbox/parked-messages.js';
import { writeMessage } from '../../src/outbox/write-message.js';
import { createTestStore, eventually } from '../setup/database.js';
import { RecordingPublisher } from './support/recording-publisher.js';
import { relays } from './support/relay-harness.js';

const store: EventStore = await createTestStore('outbox_routing');
const start = relays();

const likeSchema = z.object({ postId: z.string(), userId: z.string() });

/**
 * Likes of category `category` go to `likes` as `post.liked` v2; everything of the category goes to `audit` as stored. */
function likesOutbox(name: string, category: string, likes: RecordingPublisher, audit: RecordingPublisher, likesName = 'likes') {
  return defineOutbox({
    name,
    destinations: { [likesName]: { publisher: likes }, audit: { publisher: audit } },
    routes: [
      {
        destination: likesName,
        eventTypes: ['LikeCreated'],
        categories: [category],
        type: 'post.liked',
        schemaVersion: 2,
        schema: likeSchema,
        map: (event) => ({ postId: event.streamId.slice(category.length + 1), userId: (event.data as { user: unknown }).user }),
      },
      { destination: 'audit', categories: [category], schema: z.record(z.string(), z.unknown()) },
    ],
  });
}

describe('what the outbox sends', () => {
  // Catches: a route that ignores its types or categories, a mapping not applied or not
  // validated, public type and version not set, ids that change between relays (the
  // broker's dedupe and the receiver's inbox would take a redelivery for a new message),
  // one id for two destinations, ids or metadata lost on the way.
  it('publishes the routed events in their public shape, with ids derived from the event ids', async () => {
    const likes = new RecordingPublisher();
    const audit = new RecordingPublisher();
    const outbox = likesOutbox('routing', 'rta', likes, audit);
    await store.appendToStream('rta-1', [
      { type: 'LikeCreated', data: { user: 'ada' }, metadata: { correlationId: 'c-1', causationId: 'cmd-1' } },
      { type: 'LikeRemoved', data: { user: 'ada' } },
    ]);
    await store.appendToStream('rtb-1', [{ type: 'LikeCreated', data: { user: 'bob' } }]);
    const [created, removed] = await store.readStream('rta-1');

    start(store, outbox);
    await eventually(async () => {
      expect(likes.received).toHaveLength(1);
      expect(audit.received).toHaveLength(2);
    });

    expect(likes.received[0]).toEqual({
      id: messageIdOf('likes', created!.id),
      destination: 'likes',
      key: 'rta-1',
      type: 'post.liked',
      schemaVersion: 2,
      category: 'rta',
      payload: { postId: '1', userId: 'ada' },
      position: created!.globalPosition.toString(),
      streamId: 'rta-1',
      recordedAt: created!.recordedAt,
      correlationId: 'c-1',
      causationId: 'cmd-1',
    });
    expect(audit.received.map((m) => [m.type, m.schemaVersion, m.payload, m.id])).toEqual([
      ['LikeCreated', 1, { user: 'ada' }, messageIdOf('audit', created!.id)],
      ['LikeRemoved', 1, { user: 'ada' }, messageIdOf('audit', removed!.id)],
    ]);
    expect(messageIdOf('audit', created!.id)).not.toBe(messageIdOf('likes', created!.id));
    expect(likes.received[0]!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    // Another relay (another outbox name: its own checkpoints) sends the same ids again.
    const again = new RecordingPublisher();
    start(store, likesOutbox('routing-again', 'rta', again, new RecordingPublisher()));
    await eventually(async () => expect(again.received.map((m) => m.id)).toEqual(likes.received.map((m) => m.id)));
  });

  // Catches: a written message mapped or validated like a domain event, its key not used
  // as the ordering key (it would race the stream's own events), its correlation lost,
  // a message for a destination of another outbox sent here.
  it('sends a written message as written, in log order with the events of its key', async () => {
    const likes = new RecordingPublisher();
    // Written messages go to every outbox with that destination: a name of its own here.
    const outbox = likesOutbox('written', 'rtw', likes, new RecordingPublisher(), 'likes_w');
    await store.withTransaction(async (tx) => {
      await tx.appendToStream('rtw-1', [{ type: 'LikeCreated', data: { user: 'ada' } }]);
      await writeMessage(tx, { destination: 'likes_w', key: 'rtw-1', type: 'billing.charge', schemaVersion: 3, payload: { cents: 5 }, correlationId: 'c-9' });
      await writeMessage(tx, { destination: 'elsewhere', key: 'rtw-1', type: 'ignored', payload: {} });
      await tx.appendToStream('rtw-1', [{ type: 'LikeCreated', data: { user: 'bob' } }]);
    });

    start(store, outbox);
    await eventually(async () => expect(likes.received).toHaveLength(3));
    expect(likes.received.map((m) => [m.key, m.type, m.payload])).toEqual([
      ['rtw-1', 'post.liked', { postId: '1', userId: 'ada' }],
      ['rtw-1', 'billing.charge', { cents: 5 }],
      ['rtw-1', 'post.liked', { postId: '1', userId: 'bob' }],
    ]);
    expect(likes.received[1]).toMatchObject({ schemaVersion: 3, category: 'rtw', correlationId: 'c-9', streamId: 'outbox-likes_w-rtw-1' });
  });

  // Catches: a payload that fails the public schema crashing the relay, stopping every key,
  // or going out unchecked; an error that does not say which field is wrong.
  it('parks a message whose payload fails the public schema, naming the field, and goes on with the other keys', async () => {
    const likes = new RecordingPublisher();
    const outbox = likesOutbox('invalid', 'rti', likes, new RecordingPublisher());
    await store.appendToStream('rti-bad', [{ type: 'LikeCreated', data: { user: 42 } }, { type: 'LikeCreated', data: { user: 'ada' } }]);
    await store.appendToStream('rti-good', [{ type: 'LikeCreated', data: { user: 'bob' } }]);
    const [bad, behind] = await store.readStream('rti-bad');

    start(store, outbox);
    await eventually(async () => expect(likes.received.map((m) => m.key)).toEqual(['rti-good']));
    const parked = await eventually(async () => {
      const rows = await listParkedMessages(store, outbox);
      expect(rows).toHaveLength(2);
      return rows;
    });
    expect(parked.map((row) => [row.key, row.status, row.eventId])).toEqual([
      ['rti-bad', 'parked', bad!.id],
      ['rti-bad', 'held', behind!.id],
    ]);
    expect(parked[0]!.error).toMatch(/^ValidationError: payload\.userId: /);
    expect(parked[0]!.attempts).toBe(1);
    expect(parked[0]!.messageId).toBe(messageIdOf('likes', bad!.id));
  });

  // Catches: a map that throws taken for the relay's fault (the partition would stop, or
  // the event be dead-lettered and its key go on without it).
  it('parks a message whose map throws, with the error', async () => {
    const out = new RecordingPublisher();
    const outbox = defineOutbox({
      name: 'throwing-map',
      destinations: { out: { publisher: out } },
      routes: [
        {
          destination: 'out',
          categories: ['rtm'],
          schema: z.object({ n: z.number() }),
          map: (event) => {
            const { n } = event.data as { n: number };
            if (n === 1) throw new TypeError('no n for you');
            return { n };
          },
        },
      ],
    });
    await store.appendToStream('rtm-1', [{ type: 'N', data: { n: 1 } }]);
    await store.appendToStream('rtm-2', [{ type: 'N', data: { n: 2 } }]);
    start(store, outbox);
    await eventually(async () => expect(out.received.map((m) => m.key)).toEqual(['rtm-2']));
    const [parked] = await eventually(async () => {
      const rows = await listParkedMessages(store, outbox);
      expect(rows).toHaveLength(1);
      return rows;
    });
    expect(parked).toMatchObject({ key: 'rtm-1', status: 'parked', error: expect.stringContaining('TypeError: no n for you') });
  });

  // Catches: publishing before the commit, or from anything but committed rows.
  it('publishes nothing of a transaction that rolled back', async () => {
    const likes = new RecordingPublisher();
    const outbox = likesOutbox('rollback', 'rtr', likes, new RecordingPublisher());
    start(store, outbox);
    const rolledBack = store.withTransaction(async (tx) => {
      await tx.appendToStream('rtr-1', [{ type: 'LikeCreated', data: { user: 'ghost' } }]);
      await writeMessage(tx, { destination: 'likes', key: 'rtr-1', type: 'ghost.message', payload: {} });
      throw new Error('changed my mind');
    });
    await expect(rolledBack).rejects.toThrow('changed my mind');
    await store.appendToStream('rtr-2', [{ type: 'LikeCreated', data: { user: 'ada' } }]);

    await eventually(async () => expect(likes.received.map((m) => m.key)).toContain('rtr-2'));
    expect(likes.received.filter((m) => m.key.startsWith('rtr-')).map((m) => m.payload)).toEqual([{ postId: '2', userId: 'ada' }]);
  });
});
