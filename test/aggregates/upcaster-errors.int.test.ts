import { randomBytes, randomUUID } from 'node:crypto';
import {
  catchUpProjections,
  defineAggregate,
  defineProjection,
  EventSchemaError,
  handleCommand,
  listDeadLetters,
  loadAggregate,
  upcast,
  versionedEvent,
  type EventStore,
} from 'annals';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestStore } from '../setup/database.js';

// Issue 11, item 7: an upcaster that throws surfaced as a bare TypeError, naming neither
// the event nor its stream, and a projection retried it with backoff although no retry
// can succeed. Now it is the EventSchemaError the docs promise, from the codec that both
// aggregates and projections decode with.
const store: EventStore = await createTestStore('upcaster_errors');

const notedV1 = z.object({ body: z.object({ text: z.string() }).nullable() });
const noted = z.object({ text: z.string() });
// Written for v1 events whose body is never null; one in the log is.
const events = {
  Noted: versionedEvent(noted, [upcast(notedV1, (v1) => ({ text: v1.body!.text }))]),
};

const notes = defineAggregate({
  category: 'notes',
  initialState: () => ({ texts: [] as string[] }),
  events,
  commands: { Note: noted },
  evolve: (state, event) => ({ texts: [...state.texts, event.data.text] }),
  decide: (command) => ({ type: 'Noted', data: command.data }),
});

/** A stream with a good v1 event, then one the upcaster throws on; its id and the bad event. */
async function streamWithBadEvent(category: string) {
  const streamId = `${category}-${randomUUID()}`;
  const { lastGlobalPosition } = await store.appendToStream(streamId, [
    { type: 'Noted', schemaVersion: 1, data: { body: { text: 'fine' } } },
    { type: 'Noted', schemaVersion: 1, data: { body: null } },
  ]);
  const [, bad] = await store.readStream(streamId);
  return { streamId, bad: bad!, until: lastGlobalPosition };
}

function expectNamesTheEvent(error: unknown, bad: { streamId: string; version: number; id: string }) {
  expect(error).toBeInstanceOf(EventSchemaError);
  expect(error).toMatchObject({ streamId: bad.streamId, version: 2, eventId: bad.id, type: 'Noted', schemaVersion: 1 });
  const message = (error as EventSchemaError).message;
  expect(message).toContain(`event ${bad.id} (Noted v1) at version 2 of stream '${bad.streamId}'`);
  expect(message).toMatch(/upcasting from schema version 1 threw: TypeError: /);
  expect((error as EventSchemaError).cause).toBeInstanceOf(TypeError);
}

describe('an upcaster that throws is an EventSchemaError naming the event', () => {
  it('when an aggregate loads, and when a command is handled', async () => {
    const { streamId, bad } = await streamWithBadEvent('notes');
    const id = streamId.slice('notes-'.length);

    expectNamesTheEvent(await loadAggregate(store, notes, id).catch((error: unknown) => error), bad);
    expectNamesTheEvent(await handleCommand(store, notes, id, { type: 'Note', data: { text: 'more' } }).catch((error: unknown) => error), bad);
    expect(await store.readStream(streamId)).toHaveLength(2);
  });

  it('when a projection decodes it: dead-lettered at once, not retried', async () => {
    const category = `notes${randomBytes(4).toString('hex')}`;
    const handled: string[] = [];
    const projection = defineProjection({
      name: category,
      version: 1,
      events,
      categories: [category],
      schema: async () => {},
      apply: async (event) => {
        handled.push(event.data.text);
      },
    });
    const { bad, until } = await streamWithBadEvent(category);

    // A retry would wait 30 s, past the catch-up's timeout: a retried event fails the test.
    await catchUpProjections(store, [projection], { retries: { attempts: 5, minDelayMs: 30_000, maxDelayMs: 30_000 }, timeoutMs: 15_000, until });

    expect(handled).toEqual(['fine']);
    const [dead, ...others] = await listDeadLetters(store, { projection: category });
    expect(others).toEqual([]);
    expect(dead).toMatchObject({ eventId: bad.id, attempts: 1 });
    expect(dead!.error).toMatch(/^EventSchemaError: /);
    expect(dead!.error).toContain('upcasting from schema version 1 threw: TypeError: ');
  });
});

describe('the codec', () => {
  const stored = (data: unknown, schemaVersion = 1) => ({
    streamId: 's-1',
    version: 4,
    globalPosition: 9n,
    id: 'e-1',
    type: 'Noted',
    schemaVersion,
    metadata: {},
    recordedAt: new Date(0),
    data,
  });

  it('wraps a throwing transform of a schema the same way', () => {
    const shouting = defineAggregate({
      ...notes,
      category: 'shouting',
      events: { Noted: z.object({ text: z.string().transform((text) => (text === '' ? (null as never as string).toUpperCase() : text)) }) },
    });
    const error = (() => {
      try {
        shouting.eventCodec.decode(stored({ text: '' }));
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(EventSchemaError);
    expect((error as EventSchemaError).message).toMatch(/reading schema version 1 threw: TypeError: /);
  });

  it('leaves an EventSchemaError of its own unchanged', () => {
    expect(() => notes.eventCodec.decode(stored({ body: 'nope' }))).toThrow(/data does not fit schema version 1: data\.body/);
  });
});
