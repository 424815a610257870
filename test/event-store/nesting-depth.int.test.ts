import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createEventStore, ValidationError, type EventStore } from '../../src/index.js';
import { createTestStore } from '../setup/database.js';

// Issue 11, item 7: arrays nested 2,000 deep (a 4 KB payload) made the validator throw a
// raw RangeError (call stack exceeded). The documented limit is 512 levels of arrays and
// objects in event data and in metadata: below what Postgres accepts even at its smallest
// max_stack_depth (100kB: ~619 levels), and well below V8's recursive built-ins that
// later handle stored events (JSON.stringify, isDeepStrictEqual, zod's z.lazy).
const limit = 512;

const postgres: EventStore = await createTestStore('nesting_depth');
const pglite = createEventStore({ pglite: 'memory://' }, { schema: 'annals' });
await pglite.migrate();
afterAll(() => pglite.close());

/** `n` arrays inside each other: `[[[...]]]`, built the way a parsed request body would be. */
const nestedArrays = (n: number): unknown => JSON.parse('['.repeat(n) + ']'.repeat(n));

/** `n` objects inside each other: `{ child: { child: ... {} } }`. */
function nestedObjects(n: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let level = 1; level < n; level++) value = { child: value };
  return value;
}

/** `n` levels alternating object and array: `{ k: [{ k: [...] }] }`. */
function nestedMixed(n: number): unknown {
  let value: unknown = n % 2 === 0 ? [] : {};
  for (let level = n - 1; level >= 1; level--) value = level % 2 === 0 ? [value] : { k: value };
  return value;
}

/** What an append threw, or null. */
async function appendError(store: EventStore, streamId: string, events: unknown[]): Promise<unknown> {
  return store.appendToStream(streamId, events as never).then(
    () => null,
    (error: unknown) => error,
  );
}

interface DeepEvent {
  type: string;
  data: unknown;
  metadata?: Record<string, unknown>;
}

describe.each([
  ['postgres', () => postgres],
  ['pglite', () => pglite],
])('nesting depth of event data and metadata (%s)', (_backend, storeOf) => {
  it.each<[string, () => DeepEvent]>([
    ['arrays in data', () => ({ type: 'Deep', data: nestedArrays(limit) })],
    ['objects in data', () => ({ type: 'Deep', data: nestedObjects(limit) })],
    ['arrays and objects in data', () => ({ type: 'Deep', data: nestedMixed(limit) })],
    ['objects in metadata', () => ({ type: 'Deep', data: {}, metadata: nestedObjects(limit) })],
    ['arrays under a metadata key', () => ({ type: 'Deep', data: {}, metadata: { trace: nestedArrays(limit - 1) } })],
  ])('accepts %s nested exactly to the limit, and reads them back unchanged', async (_name, event) => {
    const store = storeOf();
    const streamId = `deep-${randomUUID()}`;
    const input = event();
    await store.appendToStream(streamId, [input]);
    const [back] = await store.readStream(streamId);
    // JSON text, not toEqual: the comparison itself must not recurse 512 deep per level.
    expect(JSON.stringify(back!.data)).toBe(JSON.stringify(input.data));
    if (input.metadata !== undefined) expect(JSON.stringify(back!.metadata)).toBe(JSON.stringify(input.metadata));
  });

  it('recognises the retry of an event at the limit as the same append', async () => {
    const store = storeOf();
    const streamId = `deep-${randomUUID()}`;
    const events = [{ id: randomUUID(), type: 'Deep', data: nestedMixed(limit), metadata: nestedObjects(limit) }];
    const first = await store.appendToStream(streamId, events);
    const retry = await store.appendToStream(streamId, events);
    expect(retry).toEqual({ ...first, written: false });
    expect(await store.readStream(streamId)).toHaveLength(1);
  });

  it.each([
    ['arrays in data', { type: 'Deep', data: nestedArrays(limit + 1) }, 'events[0].data'],
    ['objects in data', { type: 'Deep', data: nestedObjects(limit + 1) }, 'events[0].data'],
    ['arrays and objects in data', { type: 'Deep', data: nestedMixed(limit + 1) }, 'events[0].data'],
    ['arrays under a data key', { type: 'Deep', data: { list: nestedArrays(limit) } }, 'events[0].data'],
    ['objects in metadata', { type: 'Deep', data: {}, metadata: nestedObjects(limit + 1) }, 'events[0].metadata'],
  ])('refuses %s nested one level past the limit, naming the field and the limit', async (_name, event, field) => {
    const store = storeOf();
    const streamId = `deep-${randomUUID()}`;
    const error = await appendError(store, streamId, [{ type: 'Fine', data: {} }, event]);
    expect(error).toBeInstanceOf(ValidationError);
    const issues = (error as ValidationError).issues;
    expect(issues).toEqual([{ field: field.replace('events[0]', 'events[1]'), reason: expect.stringMatching(/nested more than 512 levels deep/) as unknown }]);
    expect(await store.readStream(streamId)).toEqual([]);
  });

  it.each([
    ['2,000 arrays in data (4 KB)', () => ({ type: 'Deep', data: nestedArrays(2_000) }), 'events[0].data'],
    ['100,000 arrays in data', () => ({ type: 'Deep', data: nestedArrays(100_000) }), 'events[0].data'],
    ['100,000 objects in data', () => ({ type: 'Deep', data: nestedObjects(100_000) }), 'events[0].data'],
    ['100,000 mixed levels in data', () => ({ type: 'Deep', data: nestedMixed(100_000) }), 'events[0].data'],
    ['2,000 objects in metadata', () => ({ type: 'Deep', data: {}, metadata: nestedObjects(2_000) }), 'events[0].metadata'],
    ['100,000 objects in metadata', () => ({ type: 'Deep', data: {}, metadata: nestedObjects(100_000) }), 'events[0].metadata'],
  ])('refuses %s with a ValidationError, not a RangeError, and quickly', async (_name, event, field) => {
    const store = storeOf();
    const streamId = `deep-${randomUUID()}`;
    const input = event();
    const started = performance.now();
    const error = await appendError(store, streamId, [input]);
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ code: 'ANNALS_VALIDATION', field, reason: expect.stringMatching(/more than 512 levels/) as unknown });
    // The walk stops at the limit: the cost does not grow with the depth given.
    expect(elapsed).toBeLessThan(1_000);
    expect(await store.readStream(streamId)).toEqual([]);
  });

  it('still finds what is not JSON deep inside, and says where', async () => {
    const store = storeOf();
    let data: unknown = { text: 'a\ud800b', run: () => 1 };
    for (let level = 0; level < 300; level++) data = [data];
    const error = await appendError(store, `deep-${randomUUID()}`, [{ type: 'Deep', data }]);
    const at = `events[0].data${'[0]'.repeat(300)}`;
    expect((error as ValidationError).issues).toEqual([
      { field: `${at}.text`, reason: expect.stringMatching(/unpaired surrogate/) as unknown },
      { field: `${at}.run`, reason: expect.stringMatching(/function/) as unknown },
    ]);
  });

  it('tells a cycle from a value that appears twice', async () => {
    const store = storeOf();
    const shared = { tag: 'x' };
    const twice = { a: shared, b: [shared, { c: shared }] };
    const streamId = `deep-${randomUUID()}`;
    await store.appendToStream(streamId, [{ type: 'Shared', data: twice }]);
    expect((await store.readStream(streamId))[0]!.data).toEqual({ a: shared, b: [shared, { c: shared }] });

    const loop: Record<string, unknown> = { tag: 'loop', list: [] as unknown[] };
    (loop.list as unknown[]).push({ back: loop });
    const error = await appendError(store, streamId, [{ type: 'Loop', data: { ok: shared, loop } }]);
    expect((error as ValidationError).issues).toEqual([{ field: 'events[0].data.loop.list[0].back', reason: expect.stringMatching(/cycle/) as unknown }]);
  });

  it('keeps the order of the issues it finds, keys among values', async () => {
    const store = storeOf();
    const sparse: unknown[] = [1];
    sparse[2] = 3; // a hole at [1]: skipped, as JSON.stringify writes it as null
    const data = { a: () => 0, 'b\u0000': 1, c: [1n, { d: Number.NaN }], 'e f': Symbol('e'), g: sparse, h: undefined };
    const error = await appendError(store, `deep-${randomUUID()}`, [{ type: 'Order', data }]);
    expect((error as ValidationError).issues.map((issue) => issue.field)).toEqual([
      'events[0].data.a',
      'events[0].data["b\\u0000"]',
      'events[0].data.c[0]',
      'events[0].data.c[1].d',
      'events[0].data["e f"]',
    ]);
  });
});
