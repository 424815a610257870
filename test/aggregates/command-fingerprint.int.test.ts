import { createHash, randomUUID } from 'node:crypto';
import { defineAggregate, handleCommand, IdempotencyConflictError, ValidationError, type EventStore } from 'annals';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { eventIdFor } from '../../src/aggregates/earlier-attempt.js';
import { createTestStore } from '../setup/database.js';

// Issue 11, item 7: a command's fingerprint hashed JSON.stringify of its parsed data. Zod
// returns an object's keys in the schema's order, but a record's (and unknown data's) in
// the order they arrived: a client retrying with the same labels in another order was
// refused with IdempotencyConflictError.
const store: EventStore = await createTestStore('command_fingerprint');

const labels = z.record(z.string(), z.string());
const labelling = defineAggregate({
  category: 'labelling',
  initialState: () => ({ count: 0 }),
  events: { Labelled: z.object({ labels, extra: z.unknown().optional() }) },
  commands: { Label: z.object({ labels, extra: z.unknown().optional() }) },
  evolve: (state) => ({ count: state.count + 1 }),
  decide: (command) => ({ type: 'Labelled', data: command.data }),
});

const label = (id: string, data: { labels: Record<string, string>; extra?: unknown }, commandId: string) =>
  handleCommand(store, labelling, id, { type: 'Label', data, id: commandId });

describe('a retried command is recognised whatever the order of its keys', () => {
  it('a record and nested data with keys in another order: the original answer, nothing appended', async () => {
    const id = randomUUID();
    const first = await label(id, { labels: { b: '2', a: '1' }, extra: { z: [{ y: 1, x: 2 }], w: { v: null, u: 'x' } } }, 'request-1');
    await label(id, { labels: { c: '3' } }, 'request-2');

    const retried = await label(id, { labels: { a: '1', b: '2' }, extra: { w: { u: 'x', v: null }, z: [{ x: 2, y: 1 }] } }, 'request-1');

    expect(retried.events).toEqual(first.events);
    expect(await store.readStream(labelling.streamId(id))).toHaveLength(2);
  });

  it('different data under the same command id is still refused, arrays keeping their order', async () => {
    const id = randomUUID();
    await label(id, { labels: { b: '2', a: '1' }, extra: [1, 2] }, 'request-1');

    for (const other of [
      { labels: { a: '1', b: '3' }, extra: [1, 2] },
      { labels: { a: '1', b: '2' }, extra: [2, 1] },
      { labels: { a: '1', b: '2' } },
    ]) {
      await expect(label(id, other, 'request-1')).rejects.toBeInstanceOf(IdempotencyConflictError);
    }
    expect(await store.readStream(labelling.streamId(id))).toHaveLength(1);
  });

  // Events appended before this change carry the fingerprint of the JSON as it came: a
  // retry that sends the same JSON again must still be recognised after an upgrade.
  it('a fingerprint stored by the earlier version still matches a retry of the same command', async () => {
    const id = randomUUID();
    const streamId = labelling.streamId(id);
    const data = { labels: { b: '2', a: '1' }, extra: { z: 1, a: 2 } };
    const legacyHash = createHash('sha1').update(JSON.stringify(['Label', data])).digest('base64url');
    const metadata = { correlationId: 'request-9', causationId: 'request-9', commandId: 'request-9', commandHash: legacyHash };
    await store.appendToStream(streamId, [{ id: eventIdFor(streamId, 'request-9', 0), type: 'Labelled', data, metadata }]);

    const retried = await label(id, data, 'request-9');

    expect(retried.events).toMatchObject([{ type: 'Labelled', data, metadata: { commandHash: legacyHash } }]);
    expect(await store.readStream(streamId)).toHaveLength(1);
    await expect(label(id, { ...data, extra: { z: 2, a: 2 } }, 'request-9')).rejects.toBeInstanceOf(IdempotencyConflictError);
  });
});

describe('data JSON cannot hold as it is', () => {
  const ledger = defineAggregate({
    category: 'ledger',
    initialState: () => ({ total: 0 }),
    events: { Booked: z.object({ cents: z.string(), note: z.unknown().optional() }) },
    commands: { Book: z.object({ cents: z.bigint(), note: z.unknown().optional() }) },
    evolve: (state, event) => ({ total: state.total + Number(event.data.cents) }),
    decide: (command) => ({ type: 'Booked', data: { cents: command.data.cents.toString() } }),
  });

  it('a bigint in a command is fingerprinted, and told apart from another amount', async () => {
    const id = randomUUID();
    const first = await handleCommand(store, ledger, id, { type: 'Book', data: { cents: 12n }, id: 'book-1' });
    expect((await handleCommand(store, ledger, id, { type: 'Book', data: { cents: 12n }, id: 'book-1' })).events).toEqual(first.events);
    await expect(handleCommand(store, ledger, id, { type: 'Book', data: { cents: 13n }, id: 'book-1' })).rejects.toBeInstanceOf(IdempotencyConflictError);
  });

  it('data nested too deep for JSON is a ValidationError on command.data, not a RangeError', async () => {
    let note: unknown = 'bottom';
    for (let depth = 0; depth < 20_000; depth++) note = [note];
    const error = await handleCommand(store, ledger, randomUUID(), { type: 'Book', data: { cents: 1n, note }, id: 'deep' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe('command.data');
  });
});

describe('maps and sets in a command', () => {
  const tags = defineAggregate({
    category: 'tagging',
    initialState: () => ({ tagged: 0 }),
    events: { Tagged: z.object({ tags: z.array(z.string()) }) },
    commands: { Tag: z.object({ tags: z.set(z.string()), weights: z.map(z.string(), z.number()).optional() }) },
    evolve: (state) => ({ tagged: state.tagged + 1 }),
    decide: (command) => ({ type: 'Tagged', data: { tags: [...command.data.tags] } }),
  });

  it('a command id reused with another set or map is refused, not answered as a retry', async () => {
    // JSON.stringify writes both as {}: any two sets had the same fingerprint.
    const id = randomUUID();
    await handleCommand(store, tags, id, { type: 'Tag', data: { tags: new Set(['a']) }, id: 'tag-1' });
    await expect(handleCommand(store, tags, id, { type: 'Tag', data: { tags: new Set(['b']) }, id: 'tag-1' })).rejects.toBeInstanceOf(
      IdempotencyConflictError,
    );
    await handleCommand(store, tags, id, { type: 'Tag', data: { tags: new Set(['a']), weights: new Map([['a', 1]]) }, id: 'tag-2' });
    await expect(
      handleCommand(store, tags, id, { type: 'Tag', data: { tags: new Set(['a']), weights: new Map([['a', 2]]) }, id: 'tag-2' }),
    ).rejects.toBeInstanceOf(IdempotencyConflictError);
    expect(await handleCommand(store, tags, id, { type: 'Tag', data: { tags: new Set(['a']) }, id: 'tag-1' })).toMatchObject({ nextExpectedVersion: 1 });
  });
});
