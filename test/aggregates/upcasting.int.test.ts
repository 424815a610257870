import { randomUUID } from 'node:crypto';
import {
  aggregateStream,
  defineAggregate,
  EventSchemaError,
  handleCommand,
  loadAggregate,
  ValidationError,
  type DomainEvent,
  type EventStore,
} from 'annals';
import { describe, expect, it } from 'vitest';
import { postLikes } from '../../domain/likes/likes.aggregate.js';
import { likeCommands } from '../../domain/likes/likes.commands.js';
import { likeEvents } from '../../domain/likes/likes.events.js';
import { createTestStore } from '../setup/database.js';
import { rowCounts } from './support/sessions.js';

// At the top level: the helper registers the file's clean-up hooks.
const store: EventStore = await createTestStore('upcasting');

/** A post whose stream holds these raw events, appended straight to the store. */
async function postWith(events: { type: string; data: unknown; schemaVersion?: number }[]): Promise<string> {
  const post = randomUUID();
  await store.appendToStream(postLikes.streamId(post), events);
  return post;
}

/** The likes aggregate, recording every event its evolve is given. */
function watchingEvolve() {
  const seen: DomainEvent<typeof likeEvents>[] = [];
  const aggregate = defineAggregate({
    category: postLikes.category,
    initialState: postLikes.initialState,
    events: likeEvents,
    commands: likeCommands,
    decide: postLikes.decide,
    evolve: (state, event) => {
      seen.push(event);
      return postLikes.evolve(state, event);
    },
  });
  return { aggregate, seen };
}

describe('LikeCreated v1 (`post`, no `source`) is read as v2 (`postId`, `source`)', () => {
  it('evolve sees only the v2 shape, and the stored rows keep their v1 data', async () => {
    const post = await postWith([
      { type: 'LikeCreated', data: { post: 'p1', userId: 'ada' }, schemaVersion: 1 },
      { type: 'LikeCreated', data: { postId: 'p1', userId: 'bob', source: 'mobile' }, schemaVersion: 2 },
    ]);
    const { aggregate, seen } = watchingEvolve();

    const loaded = await aggregateStream(store, aggregate, post);

    expect(seen).toEqual([
      { type: 'LikeCreated', data: { postId: 'p1', userId: 'ada', source: 'web' } },
      { type: 'LikeCreated', data: { postId: 'p1', userId: 'bob', source: 'mobile' } },
    ]);
    expect(loaded).toEqual({ version: 2, state: { postId: 'p1', likedBy: ['ada', 'bob'] } });
    const rows = await store.readStream(postLikes.streamId(post));
    expect(rows.map(({ data, schemaVersion }) => ({ data, schemaVersion }))).toEqual([
      { data: { post: 'p1', userId: 'ada' }, schemaVersion: 1 },
      { data: { postId: 'p1', userId: 'bob', source: 'mobile' }, schemaVersion: 2 },
    ]);
  });

  it('commands decide on upcast history, and new events are written as v2', async () => {
    const post = await postWith([{ type: 'LikeCreated', data: { post: 'p2', userId: 'ada' }, schemaVersion: 1 }]);

    await expect(
      handleCommand(store, postLikes, post, { type: 'LikePost', data: { postId: 'p2', userId: 'ada' } }),
    ).rejects.toMatchObject({ code: 'LIKE_ALREADY_LIKED' });
    await handleCommand(store, postLikes, post, { type: 'LikePost', data: { postId: 'p2', userId: 'bob' } });

    expect(await loadAggregate(store, postLikes, post)).toEqual({ version: 2, state: { postId: 'p2', likedBy: ['ada', 'bob'] } });
    const [, written] = await store.readStream(postLikes.streamId(post));
    expect(written).toMatchObject({ schemaVersion: 2, data: { postId: 'p2', userId: 'bob', source: 'web' } });
  });
});

describe('an event that cannot be read is an EventSchemaError naming it', () => {
  it.each([
    ['v1 data that does not fit v1', { type: 'LikeCreated', data: { post: 42, userId: 'ada' }, schemaVersion: 1 }, /version 1/],
    ['v2 data that does not fit v2', { type: 'LikeCreated', data: { postId: '', userId: 'ada' }, schemaVersion: 2 }, /version 2/],
    ['a schema version newer than the code knows', { type: 'LikeCreated', data: { postId: 'p', userId: 'ada' }, schemaVersion: 3 }, /newer/],
    ['an event type the aggregate does not know', { type: 'LikeTeleported', data: {}, schemaVersion: 1 }, /not a known event type/],
  ])('%s', async (_case, bad, reason) => {
    const post = await postWith([{ type: 'LikeCreated', data: { postId: 'p', userId: 'bob' }, schemaVersion: 2 }, bad]);
    const [, stored] = await store.readStream(postLikes.streamId(post));

    for (const load of [aggregateStream, loadAggregate]) {
      const error = await load(store, postLikes, post).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EventSchemaError);
      expect(error).toMatchObject({
        code: 'ANNALS_EVENT_SCHEMA',
        streamId: postLikes.streamId(post),
        version: 2,
        eventId: stored!.id,
        type: bad.type,
        schemaVersion: bad.schemaVersion,
      });
      expect((error as Error).message).toMatch(reason);
    }
  });

  it('names the fields that do not fit', async () => {
    const post = await postWith([{ type: 'LikeCreated', data: { post: 42, userId: 'ada' }, schemaVersion: 1 }]);
    const error = await aggregateStream(store, postLikes, post).catch((e: unknown) => e);
    expect((error as EventSchemaError).issues.map((issue) => issue.field)).toEqual(['data.post']);
  });
});

describe('events are validated on the way in', () => {
  const sloppy = defineAggregate({
    category: 'sloppy',
    initialState: () => ({}),
    events: likeEvents,
    commands: likeCommands,
    evolve: (state) => state,
    // A bug: the post id is lost on the way.
    decide: (command) => ({ type: 'LikeCreated', data: { postId: '', userId: command.data.userId } }),
  });

  it('a decide returning data that breaks its event schema is a ValidationError, and nothing is written', async () => {
    const before = await rowCounts(store);
    const error = await handleCommand(store, sloppy, 's1', { type: 'LikePost', data: { postId: 'p', userId: 'ada' } }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe('events[0].data.postId');
    expect(await rowCounts(store)).toEqual(before);
  });

  it('so is an event type the aggregate does not declare', async () => {
    const inventive = defineAggregate({
      category: 'inventive',
      initialState: () => ({}),
      events: likeEvents,
      commands: likeCommands,
      evolve: (state) => state,
      // Only past the type checker (a cast, plain JavaScript): a type it does not declare.
      decide: () => ({ type: 'LikeTeleported', data: {} }) as never,
    });
    const before = await rowCounts(store);
    const error = await handleCommand(store, inventive, 'i1', { type: 'LikePost', data: { postId: 'p', userId: 'ada' } }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ constructor: ValidationError, field: 'events[0].type' });
    expect(await rowCounts(store)).toEqual(before);
  });
});
