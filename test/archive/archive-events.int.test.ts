import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import {
  archiveEvents,
  archiveStatus,
  createEventStore,
  defineRetention,
  restoreArchive,
  runRetention,
  ValidationError,
  IdempotencyConflictError,
  catchUpProjections,
  readSchemaOf,
  setupProjection,
  type EventStore,
  type RecordedEvent,
} from '../../src/index.js';
import { createTestStore } from '../setup/database.js';
import { counted, tallyProjection } from '../support/tally.js';

// Archiving moves the oldest events out of the hot table by global position; every read
// reads both, so what readers see does not change, and a restore puts the rows back as
// they were (issue 16, part 2).

const postgres = await createTestStore('archive_events');
// A store of its own for the test of the archive's physical order: rows restored earlier
// leave space in the archive that later rows may fill.
const ordered = await createTestStore('archive_order');
const pglite = createEventStore({ pglite: 'memory://' }, { schema: 'annals' });
await pglite.migrate();
afterAll(() => pglite.close());

const rows = (store: EventStore, table: 'events' | 'events_archive' | 'events_all') =>
  store.withTransaction((tx) => tx.query<Record<string, unknown>>(`SELECT * FROM "${tx.schema}".${table} ORDER BY global_position`), { appends: false });

/** Every read a user has, for comparing before and after. */
async function everyRead(store: EventStore, streams: string[]) {
  const all: RecordedEvent[] = [];
  for await (const event of store.iterateAll({ batchSize: 7 })) all.push(event);
  return {
    all,
    pages: await store.readAll({ after: 0n, limit: 1_000 }),
    // Small filtered pages: some straddle the archive point, some end exactly on it.
    noted: await pagesOf(store, { types: ['Noted'], limit: 4 }),
    streams: await Promise.all(streams.map((id) => store.readStream(id))),
    backwards: await Promise.all(streams.map((id) => store.readStream(id, { direction: 'backward', limit: 3 }))),
    count: await store.countEvents({ categories: ['cart'] }),
    committed: await store.readAllCommitted({ types: ['Added'] }),
    byId: await store.readEventsById(all.slice(0, 5).map((event) => event.id)),
  };
}

async function pagesOf(store: EventStore, options: { types: string[]; limit: number }) {
  const pages: bigint[][] = [];
  for (let after = 0n; ; ) {
    const page = await store.readAll({ ...options, after });
    if (page.length === 0) return pages;
    pages.push(page.map((event) => event.globalPosition));
    after = page.at(-1)!.globalPosition;
  }
}

async function fill(store: EventStore, prefix: string): Promise<string[]> {
  const streams = Array.from({ length: 6 }, (_, i) => `cart-${prefix}${i}`);
  for (let round = 0; round < 5; round++) {
    for (const [i, id] of streams.entries()) {
      await store.appendToStream(id, [
        { type: 'Added', data: { item: `i${round}`, qty: round + i }, metadata: { by: 'test' } },
        { type: 'Noted', data: { who: `person ${i}`, text: 'x'.repeat(round * 10) }, personal: [{ subject: `${prefix}s${i}`, fields: ['who'] }] },
      ]);
    }
  }
  return streams;
}

describe.each([
  ['Postgres', postgres],
  ['PGlite', pglite],
])('archiving on %s', (_name, store) => {
  it('moves the oldest events, changes no read, and restores every row exactly', async () => {
    const streams = await fill(store, 'rt');
    const before = await everyRead(store, streams);
    const rawBefore = await rows(store, 'events');
    const middle = before.all[Math.floor(before.all.length / 2)]!.globalPosition;

    const report = await archiveEvents(store, { through: middle, batchSize: 4 });
    expect(report.moved).toBe(before.all.filter((event) => event.globalPosition <= middle).length);
    expect(report.archivedThrough).toBe(middle);
    expect((await rows(store, 'events')).every((row) => BigInt(row.global_position as string) > middle)).toBe(true);
    expect(await rows(store, 'events_archive')).toHaveLength(report.moved);
    expect(await archiveStatus(store)).toMatchObject({ archivedThrough: middle, archivedEvents: report.moved });

    expect(await everyRead(store, streams)).toEqual(before);
    expect(await rows(store, 'events_all')).toEqual(rawBefore);

    const restored = await restoreArchive(store, { batchSize: 5 });
    expect(restored).toEqual({ restored: report.moved, archivedThrough: 0n });
    expect(await rows(store, 'events')).toEqual(rawBefore);
    expect(await rows(store, 'events_archive')).toEqual([]);
    expect(await everyRead(store, streams)).toEqual(before);
  });

  it('never moves the head, and archives by age', async () => {
    const [id] = await fill(store, 'age');
    const head = await store.headPosition();
    await archiveEvents(store, { through: head + 100n });
    expect((await archiveStatus(store)).archivedThrough).toBeLessThan(head);
    expect(await store.readStream(id!)).toHaveLength(10);
    // Nothing is old enough.
    expect((await archiveEvents(store, { olderThanMs: 3_600_000 })).moved).toBe(0);
    await restoreArchive(store);
  });
});

describe('archiving, with readers and writers at work', () => {
  it('no reader skips or repeats an event while batches move, and appends go on', async () => {
    const store = postgres;
    const streams = await fill(store, 'busy');
    let stop = false;
    const reads: bigint[][] = [];
    const readers = Array.from({ length: 3 }, async () => {
      while (!stop) {
        const seen: bigint[] = [];
        for await (const event of store.iterateAll({ batchSize: 5 })) seen.push(event.globalPosition);
        reads.push(seen);
      }
    });
    const writers = streams.slice(0, 2).map(async (id) => {
      for (let i = 0; i < 20; i++) await store.appendToStream(id, [{ type: 'Added', data: { item: 'late', qty: i } }]);
    });
    const head = await store.headPosition();
    await archiveEvents(store, { through: head, batchSize: 3 });
    await Promise.all(writers);
    stop = true;
    await Promise.all(readers);
    const final = (await store.readAll()).map((event) => event.globalPosition);
    expect(reads.length).toBeGreaterThan(0);
    for (const seen of reads) {
      // Each read is exactly the final log up to where it ended: nothing skipped, nothing twice.
      const last = seen.at(-1)!;
      expect(seen).toEqual(final.filter((position) => position <= last));
    }
    await restoreArchive(store);
  });

  it('stores archived rows in position order, so a rebuild reads the archive page by page', async () => {
    const store = ordered;
    await store.withTransaction(async (tx) => {
      for (let i = 0; i < 200; i++) await tx.appendToStream(`order-${i}`, Array.from({ length: 100 }, (_, n) => ({ type: 'Noted', data: { n } })));
    });
    await archiveEvents(store, { through: await store.headPosition(), batchSize: 5_000 });
    const stored = await store.withTransaction((tx) => tx.query<{ p: string }>(`SELECT global_position::text AS p FROM "${tx.schema}".events_archive ORDER BY ctid`), { appends: false });
    const positions = stored.map((row) => BigInt(row.p));
    expect(positions).toHaveLength(20_000 - 1); // all but the head
    expect(positions).toEqual([...positions].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
  });

  it('retention removes expired events from the archive too', async () => {
    const store = postgres;
    const [id] = await fill(store, 'expire');
    await archiveEvents(store, { through: await store.headPosition() });
    const archived = (await archiveStatus(store)).archivedEvents;
    await store.deleteStream(id!);
    const report = await runRetention(store, defineRetention({ categories: { cart: { afterDelete: true } } }));
    expect(report.results.reduce((sum, r) => sum + r.removed, 0)).toBe(10);
    expect((await archiveStatus(store)).archivedEvents).toBe(archived - 10);
    expect((await rows(store, 'events_all')).filter((row) => row.stream_id === id)).toEqual([]);
    await restoreArchive(store);
  });

  it('a projection rebuilt from the start reads the archived history through', async () => {
    const store = postgres;
    const projection = tallyProjection({ name: 'archive-tally', partitions: 2 });
    for (const key of ['a', 'b', 'c']) await store.appendToStream(`tally-${key}`, Array.from({ length: 4 }, () => counted(key)));
    await archiveEvents(store, { through: await store.headPosition() });
    expect((await archiveStatus(store)).archivedEvents).toBeGreaterThanOrEqual(11);
    await setupProjection(store, projection);
    await catchUpProjections(store, [projection]);
    const tallies = await store.read((db) => db.withSchema(readSchemaOf(store.schema, projection)).selectFrom('tallies').selectAll().orderBy('key').execute());
    expect(tallies).toEqual([{ key: 'a', n: 4 }, { key: 'b', n: 4 }, { key: 'c', n: 4 }]);
    await restoreArchive(store);
  });

  it('answers a retried append whose events were archived with the first result, and never stores them twice', async () => {
    const store = postgres;
    const id = randomUUID();
    const events = [{ id, type: 'Added', data: { item: 'once', qty: 1 } }];
    const first = await store.appendToStream('cart-retried', events);
    await store.appendToStream('cart-after', [{ type: 'Added', data: { item: 'head', qty: 1 } }]);
    await archiveEvents(store, { through: first.lastGlobalPosition });
    for (const expectedVersion of [undefined, 'any', 'stream_exists'] as const) {
      const again = await store.appendToStream('cart-retried', events, expectedVersion === undefined ? {} : { expectedVersion });
      expect(again).toEqual({ ...first, written: false });
    }
    await expect(store.appendToStream('cart-other', events)).rejects.toBeInstanceOf(IdempotencyConflictError);
    expect(await store.withTransaction((tx) => tx.appendToStream('cart-retried', events))).toEqual({ ...first, written: false });
    expect(await store.readEventsById([id])).toHaveLength(1);
    // The restore meets no second copy of the event.
    await restoreArchive(store);
    expect(await store.readStream('cart-retried')).toHaveLength(1);
  });

  it('refuses options that say nothing or are out of range, naming them', async () => {
    await expect(archiveEvents(postgres, {})).rejects.toMatchObject({ field: 'options.through' });
    await expect(archiveEvents(postgres, { through: 1n, batchSize: 0 })).rejects.toMatchObject({ field: 'options.batchSize' });
    await expect(archiveEvents(postgres, { through: -1n })).rejects.toBeInstanceOf(ValidationError);
    await expect(restoreArchive(postgres, { after: 5 as never })).rejects.toMatchObject({ field: 'options.after' });
  });
});
