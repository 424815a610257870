import { randomUUID } from 'node:crypto';
import { defineAggregate, handleCommand, type EventStore, type EventStoreSession } from 'annals';
import { describe, expect, it } from 'vitest';
import { createTestStore } from '../setup/database.js';
import { tally } from '../support/tally.js';

// Issue 9: without a command id, handleCommand returned `id: ''` for every event instead
// of the id the store recorded.
const store: EventStore = await createTestStore('returned_event_ids');

const { eventCodec: _codec, commandSchema: _commands, streamId: _streamId, ...definition } = tally;
const cachedTally = defineAggregate({ ...definition, cache: { maxStreams: 100 } });

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The ids of `streamId`'s events as stored, by version. */
async function storedIds(streamId: string): Promise<Map<number, string>> {
  const events = await store.readStream(streamId);
  return new Map(events.map((event) => [event.version, event.id]));
}

describe('handleCommand returns the ids of the events as stored', () => {
  // [case, aggregate, with a command id]
  const cases: [string, typeof tally, boolean][] = [
    ['without a command id', tally, false],
    ['with a command id', tally, true],
    ['without a command id, with a state cache', cachedTally, false],
    ['with a command id, with a state cache', cachedTally, true],
  ];

  describe.each(['the store', 'a transaction'])('on %s', (on) => {
    it.each(cases)('%s', async (_case, aggregate, withCommandId) => {
      const id = randomUUID();
      const run = (work: (session: EventStoreSession) => Promise<void>) => (on === 'the store' ? work(store) : store.withTransaction(work));
      const returned: { id: string; version: number }[] = [];
      // Three commands of two events each: with a cache, the second and third decide on
      // the cached state (its own path through handleCommand).
      for (let i = 0; i < 3; i++) {
        await run(async (session) => {
          const command = { type: 'Count', data: { times: 2 }, ...(withCommandId ? { id: randomUUID() } : {}) } as const;
          const result = await handleCommand(session, aggregate, id, command);
          returned.push(...result.events.map((event) => ({ id: event.id, version: event.version })));
        });
      }

      const stored = await storedIds(tally.streamId(id));
      expect(returned.map((event) => event.version)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(returned.map((event) => event.id)).toEqual([...stored.values()]);
      for (const event of returned) {
        expect(event.id).toMatch(uuid);
        expect(event.id).toBe(stored.get(event.version));
      }
    });
  });

  it.each([
    ['without a state cache', tally],
    ['with a state cache', cachedTally],
  ])('a retried command id is answered with the first attempt’s ids, %s', async (_case, aggregate) => {
    const id = randomUUID();
    const command = { type: 'Count', data: { times: 3 }, id: randomUUID() } as const;
    const first = await handleCommand(store, aggregate, id, command);
    await handleCommand(store, aggregate, id, { type: 'Count', data: { times: 1 } });
    const retried = await handleCommand(store, aggregate, id, command);

    const stored = await storedIds(tally.streamId(id));
    expect(first.events.map((event) => event.id)).toEqual([1, 2, 3].map((version) => stored.get(version)));
    expect(retried.events.map((event) => event.id)).toEqual(first.events.map((event) => event.id));
    expect(stored.size).toBe(4);
  });
});
