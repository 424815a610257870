import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventStore, ValidationError, type EventStore } from '../../src/index.js';
import { createTestStore, testDatabaseUrl } from '../setup/database.js';

let admin: pg.Client;
// At the top level: the helper registers the file's clean-up hooks.
const store: EventStore = await createTestStore('bad_input', { maxEventBytes: 2_000, maxEventsPerAppend: 50 });
beforeAll(async () => {
  admin = new pg.Client({ connectionString: testDatabaseUrl });
  await admin.connect();
});
afterAll(() => admin.end());

const cycle: Record<string, unknown> = { name: 'loop' };
cycle.self = cycle;

/** Rows in the store's tables, read directly: proof that nothing was written. */
async function rowCounts() {
  const { rows } = await admin.query(
    `SELECT (SELECT count(*) FROM "${store.schema}".events)::int AS events, (SELECT count(*) FROM "${store.schema}".streams)::int AS streams`,
  );
  return rows[0] as { events: number; streams: number };
}

const ok = { type: 'LikeCreated', data: { userId: 'ada' } };

// [case, stream id, events, expectedVersion, field, reason]
const cases: [string, unknown, unknown, unknown, string, RegExp][] = [
  ['empty stream id', '', [ok], 'any', 'streamId', /must not be empty/],
  ['over-long stream id', `post-${'x'.repeat(300)}`, [ok], 'any', 'streamId', /at most 255/],
  ['stream id that is not a string', 42, [ok], 'any', 'streamId', /must be a string/],
  ['stream id with a control character', 'post-1\n', [ok], 'any', 'streamId', /control characters/],
  ['stream id with outer white space', ' post-1', [ok], 'any', 'streamId', /white space/],
  ['unknown expected version', 'post-1', [ok], 'latest', 'expectedVersion', /'any', 'no_stream', 'stream_exists'/],
  ['negative expected version', 'post-1', [ok], -1, 'expectedVersion', /whole number >= 0/],
  ['fractional expected version', 'post-1', [ok], 1.5, 'expectedVersion', /whole number/],
  ['events not an array', 'post-1', ok, 'any', 'events', /must be an array/],
  ['no events', 'post-1', [], 'any', 'events', /at least one event/],
  ['too many events', 'post-1', Array.from({ length: 51 }, () => ok), 'any', 'events', /more than the limit of 50/],
  ['event that is not an object', 'post-1', ['LikeCreated'], 'any', 'events[0]', /must be an object/],
  ['empty event type', 'post-1', [{ type: '', data: {} }], 'any', 'events[0].type', /must not be empty/],
  ['missing event type', 'post-1', [{ data: {} }], 'any', 'events[0].type', /must be a string/],
  ['over-long event type', 'post-1', [{ type: 'T'.repeat(256), data: {} }], 'any', 'events[0].type', /at most 255/],
  ['event id that is not a UUID', 'post-1', [{ ...ok, id: 'abc' }], 'any', 'events[0].id', /UUID/],
  ['repeated event id', 'post-1', [{ ...ok, id: '0b8a4b0e-7d6c-4a8e-9f3e-2f1c8a1b2c3d' }, { ...ok, id: '0B8A4B0E-7D6C-4A8E-9F3E-2F1C8A1B2C3D' }], 'any', 'events[1].id', /repeats the id of events\[0\]/],
  ['bad schema version', 'post-1', [{ ...ok, schemaVersion: 0 }], 'any', 'events[0].schemaVersion', /at least 1/],
  ['function in data', 'post-1', [{ type: 'T', data: { run: () => 1 } }], 'any', 'events[0].data.run', /function/],
  ['bigint in data', 'post-1', [{ type: 'T', data: { amount: 10n } }], 'any', 'events[0].data.amount', /bigint/],
  ['cycle in data', 'post-1', [{ type: 'T', data: cycle }], 'any', 'events[0].data.self', /cycle/],
  ['NaN in data', 'post-1', [{ type: 'T', data: { n: [1, Number.NaN] } }], 'any', 'events[0].data.n[1]', /NaN/],
  ['Infinity in data', 'post-1', [{ type: 'T', data: Number.POSITIVE_INFINITY }], 'any', 'events[0].data', /Infinity/],
  ['undefined data', 'post-1', [{ type: 'T' }], 'any', 'events[0].data', /undefined/],
  ['Date in data', 'post-1', [{ type: 'T', data: { at: new Date() } }], 'any', 'events[0].data.at', /Date instance.*toISOString/],
  ['Map in data', 'post-1', [{ type: 'T', data: new Map() }], 'any', 'events[0].data', /Map instance/],
  ['symbol in data', 'post-1', [{ type: 'T', data: { s: Symbol('x') } }], 'any', 'events[0].data.s', /symbol/],
  ['NUL character in data', 'post-1', [{ type: 'T', data: { text: 'a\u0000b' } }], 'any', 'events[0].data.text', /NUL/],
  ['unpaired surrogate in data', 'post-1', [{ type: 'T', data: { text: 'a\ud800b' } }], 'any', 'events[0].data.text', /surrogate/],
  ['NUL character in a key', 'post-1', [{ type: 'T', data: { 'a\u0000': 1 } }], 'any', 'events[0].data["a\\u0000"]', /NUL/],
  ['metadata that is an array', 'post-1', [{ ...ok, metadata: ['x'] }], 'any', 'events[0].metadata', /plain object/],
  ['function in metadata', 'post-1', [{ ...ok, metadata: { log: console.log } }], 'any', 'events[0].metadata.log', /function/],
  ['payload over the size limit', 'post-1', [ok, { type: 'T', data: { text: 'x'.repeat(2_001) } }], 'any', 'events[1].data', /more than the limit of 2000/],
];

describe('bad input gives a ValidationError naming the field, and writes nothing', () => {
  it.each(cases)('%s', async (_name, streamId, events, expectedVersion, field, reason) => {
    const before = await rowCounts();
    const error = await store
      .appendToStream(streamId as string, events as never, { expectedVersion: expectedVersion as never })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(ValidationError);
    const validation = error as ValidationError;
    expect(validation.code).toBe('ANNALS_VALIDATION');
    expect(validation.issues.map((issue) => issue.field)).toContain(field);
    expect(validation.issues.find((issue) => issue.field === field)!.reason).toMatch(reason);
    expect(validation.message).toContain(validation.field);
    expect(await rowCounts()).toEqual(before);
  });

  it('lists every problem of a batch, and writes none of its good events', async () => {
    const id = `post-${randomUUID()}`;
    const error = await store
      .appendToStream(id, [ok, { type: '', data: {} }, { type: 'T', data: { f: () => 0 } }])
      .catch((e: ValidationError) => e);
    expect((error as ValidationError).issues.map((i) => i.field)).toEqual(['events[1].type', 'events[2].data.f']);
    expect(await store.getStreamInfo(id)).toBeNull();
  });

  it('allows undefined object properties (dropped, as JSON does)', async () => {
    const id = `post-${randomUUID()}`;
    await store.appendToStream(id, [{ type: 'T', data: { kept: 1, dropped: undefined } }]);
    expect((await store.readStream(id))[0]!.data).toEqual({ kept: 1 });
  });

  it.each([
    ['readStream fromVersion', () => store.readStream('post-1', { fromVersion: -1 }), 'options.fromVersion'],
    ['readStream direction', () => store.readStream('post-1', { direction: 'sideways' as never }), 'options.direction'],
    ['readStream limit', () => store.readStream('post-1', { limit: 0 }), 'options.limit'],
    ['readStream stream id', () => store.readStream(''), 'streamId'],
    ['readStreamFromSnapshot snapshotVersion', () => store.readStreamFromSnapshot('post-1', { snapshotVersion: 0 }), 'options.snapshotVersion'],
    ['readStreamFromSnapshot missing options', () => store.readStreamFromSnapshot('post-1', undefined as never), 'options'],
    ['readStreamFromSnapshot limit', () => store.readStreamFromSnapshot('post-1', { snapshotVersion: 1, limit: -1 }), 'options.limit'],
    ['readAll after as a number', () => store.readAll({ after: 5 as never }), 'options.after'],
    ['readAll negative after', () => store.readAll({ after: -1n }), 'options.after'],
    ['readAll types', () => store.readAll({ types: [''] }), 'options.types[0]'],
    ['truncateStream before', () => store.truncateStream('post-1', { before: -3 }), 'options.before'],
    ['deleteStream expected version', () => store.deleteStream('post-1', { expectedVersion: 'x' as never }), 'options.expectedVersion'],
    ['iterateAll batch size', () => store.iterateAll({ batchSize: 0 })[Symbol.asyncIterator]().next(), 'options.batchSize'],
  ])('rejects a bad %s', async (_name, call, field) => {
    await expect(call()).rejects.toMatchObject({ code: 'ANNALS_VALIDATION', field });
  });

  it('rejects bad store options when the store is created', () => {
    expect(() => createEventStore({ connectionString: testDatabaseUrl }, { schema: '' })).toThrow(ValidationError);
    expect(() => createEventStore({ connectionString: testDatabaseUrl }, { schema: 'x'.repeat(64) })).toThrow(/options.schema/);
    expect(() => createEventStore({ connectionString: testDatabaseUrl }, { maxEventBytes: -1 })).toThrow(/options.maxEventBytes/);
  });
});

describe('a dropped connection leaves the whole batch or nothing', () => {
  it('a transaction whose connection is killed before commit writes nothing', async () => {
    const id = `post-${randomUUID()}`;
    const attempt = store.withTransaction(async (tx) => {
      await tx.appendToStream(id, Array.from({ length: 50 }, (_, i) => ({ type: 'LikeCreated', data: { i } })));
      const [backend] = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await admin.query('SELECT pg_terminate_backend($1)', [backend!.pid]);
      await tx.appendToStream(id, [{ type: 'LikeCreated', data: { i: 50 } }]);
    });
    await expect(attempt).rejects.toThrow();
    expect(await store.getStreamInfo(id)).toBeNull();
    expect(await store.readStream(id)).toEqual([]);
    // The pool recovers: the next append works.
    await store.appendToStream(id, [{ type: 'LikeCreated', data: { i: 0 } }]);
    expect((await store.readStream(id)).length).toBe(1);
  });

  it('an append killed while its statement runs is all or nothing', async () => {
    const outcomes: number[] = [];
    for (let attempt = 0; attempt < 6; attempt++) {
      const id = `post-${randomUUID()}`;
      const batch = Array.from({ length: 50 }, (_, i) => ({ type: 'LikeCreated', data: { i, pad: 'p'.repeat(1_500) } }));
      const appending = store.appendToStream(id, batch).then(
        () => 'ok',
        () => 'killed',
      );
      // Kill whichever backend runs this append, at a moment that varies per attempt.
      await new Promise((resolve) => setTimeout(resolve, attempt));
      await admin.query(
        // The schema, not its streams table: pg_stat_activity keeps only the first 1,024
        // bytes of a statement, and the append's text is longer.
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()`,
        [`%"${store.schema}".%`],
      );
      await appending;
      // Checked on another connection: the store's pool may still hold the killed one.
      const { rows } = await admin.query(
        `SELECT (SELECT count(*) FROM "${store.schema}".events WHERE stream_id = $1)::int AS events,
                (SELECT coalesce(max(version), 0) FROM "${store.schema}".streams WHERE stream_id = $1)::int AS version`,
        [id],
      );
      expect([0, 50]).toContain(rows[0].events);
      expect(rows[0].version).toBe(rows[0].events);
      outcomes.push(rows[0].events);
    }
    expect(outcomes.length).toBe(6);
  });
});
