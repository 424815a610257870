import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConcurrencyError, StreamDeletedError, ValidationError, type EventStore, type RecordedEvent } from '../../src/index.js';
import { eventually } from '../setup/database.js';

/**
 * The event store's behaviour, written once and run against every database the store
 * supports (real Postgres and embedded PGlite), as kysely's suite does for its dialects.
 */
export function describeEventStoreContract(name: string, getStore: () => EventStore): void {
  const stream = (prefix = 'post') => `${prefix}-${randomUUID()}`;
  const like = (userId: string) => ({ type: 'LikeCreated', data: { userId } });

  describe(`event store contract (${name})`, () => {
    it('appends and reads back a stream: versions start at 1, positions increase', async () => {
      const store = getStore();
      const id = stream();
      const first = await store.appendToStream(id, [like('ada'), like('bob')], { expectedVersion: 'no_stream' });
      const second = await store.appendToStream(id, [like('cy')], { expectedVersion: first.nextExpectedVersion });

      expect(first.nextExpectedVersion).toBe(2);
      expect(second.nextExpectedVersion).toBe(3);
      expect(second.lastGlobalPosition).toBeGreaterThan(first.lastGlobalPosition);
      const events = await store.readStream(id);
      expect(events.map((e) => [e.version, e.data])).toEqual([
        [1, { userId: 'ada' }],
        [2, { userId: 'bob' }],
        [3, { userId: 'cy' }],
      ]);
      expect(events.map((e) => e.streamId)).toEqual([id, id, id]);
      expect(events[2]!.globalPosition).toBe(second.lastGlobalPosition);
      expect(events[1]!.globalPosition).toBe(first.lastGlobalPosition);
      expect(events[0]!.globalPosition).toBeLessThan(events[1]!.globalPosition);
      expect(events[0]!.recordedAt).toBeInstanceOf(Date);
      expect(events[0]!.metadata).toEqual({});
      expect(events[0]!.schemaVersion).toBe(1);
    });

    it('stores metadata, schema version and the caller’s event id', async () => {
      const store = getStore();
      const id = stream();
      const eventId = randomUUID();
      await store.appendToStream(id, [
        { type: 'LikeCreated', data: { userId: 'ada' }, metadata: { correlationId: 'c-1' }, id: eventId, schemaVersion: 2 },
      ]);
      const [event] = await store.readStream(id);
      expect(event).toMatchObject({ id: eventId, metadata: { correlationId: 'c-1' }, schemaVersion: 2, type: 'LikeCreated' });
    });

    it('gives events appended without an id a time-ordered one (UUIDv7): a later append’s sort after an earlier one’s', async () => {
      const store = getStore();
      const id = stream();
      const first = await store.appendToStream(id, [like('ada'), like('bob')]);
      await new Promise((resolve) => setTimeout(resolve, 2));
      const second = await store.appendToStream(id, [like('cy')]);
      const events = await store.readStream(id);
      expect(events.map((e) => e.id)).toEqual([...first.eventIds, ...second.eventIds]);
      for (const event of events) expect(event.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(events[2]!.id > events[0]!.id && events[2]!.id > events[1]!.id).toBe(true);
    });

    it('checks each kind of expected version', async () => {
      const store = getStore();
      const id = stream();
      await expect(store.appendToStream(id, [like('a')], { expectedVersion: 'stream_exists' })).rejects.toBeInstanceOf(
        ConcurrencyError,
      );
      await expect(store.appendToStream(id, [like('a')], { expectedVersion: 1 })).rejects.toMatchObject({
        code: 'ANNALS_CONCURRENCY',
        streamId: id,
        expected: 1,
        actual: 0,
      });
      await store.appendToStream(id, [like('a')], { expectedVersion: 0 });
      await expect(store.appendToStream(id, [like('b')], { expectedVersion: 'no_stream' })).rejects.toMatchObject({
        expected: 'no_stream',
        actual: 1,
      });
      await expect(store.appendToStream(id, [like('b')], { expectedVersion: 0 })).rejects.toBeInstanceOf(ConcurrencyError);
      await store.appendToStream(id, [like('b')], { expectedVersion: 'stream_exists' });
      await store.appendToStream(id, [like('c')], { expectedVersion: 'any' });
      await store.appendToStream(id, [like('d')]);
      await expect(store.appendToStream(id, [like('e')], { expectedVersion: 3 })).rejects.toMatchObject({ expected: 3, actual: 4 });
      expect((await store.readStream(id)).map((e) => e.version)).toEqual([1, 2, 3, 4]);
    });

    it('reads a range, backward and with a limit', async () => {
      const store = getStore();
      const id = stream();
      await store.appendToStream(id, Array.from({ length: 10 }, (_, i) => like(`u${i + 1}`)));
      const versions = (events: { version: number }[]) => events.map((e) => e.version);
      expect(versions(await store.readStream(id, { fromVersion: 3, toVersion: 5 }))).toEqual([3, 4, 5]);
      expect(versions(await store.readStream(id, { direction: 'backward', limit: 3 }))).toEqual([10, 9, 8]);
      expect(versions(await store.readStream(id, { fromVersion: 8 }))).toEqual([8, 9, 10]);
      expect(versions(await store.readStream(id, { limit: 2 }))).toEqual([1, 2]);
      expect(await store.readStream(id, { fromVersion: 11 })).toEqual([]);
      expect(await store.readStream(stream('missing'))).toEqual([]);
    });

    it('pages through long streams and the global log with the iterables', async () => {
      const store = getStore();
      const id = stream('long');
      await store.appendToStream(id, Array.from({ length: 25 }, (_, i) => like(`u${i}`)));
      const forward: number[] = [];
      for await (const event of store.iterateStream(id, { batchSize: 4 })) forward.push(event.version);
      expect(forward).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
      const backward: number[] = [];
      for await (const event of store.iterateStream(id, { batchSize: 7, direction: 'backward', fromVersion: 5 })) {
        backward.push(event.version);
      }
      expect(backward).toEqual(Array.from({ length: 21 }, (_, i) => 25 - i));

      const all = await eventually(async () => {
        const seen: bigint[] = [];
        for await (const event of store.iterateAll({ batchSize: 3, categories: ['long'] })) seen.push(event.globalPosition);
        expect(seen).toHaveLength(25);
        return seen;
      });
      expect([...all].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(all);
    });

    it('reads the global log after a position, filtered by type or category', async () => {
      const store = getStore();
      const category = `cat${randomUUID().slice(0, 8)}`;
      const a = `${category}-1`;
      const b = `${category}-2`;
      const r1 = await store.appendToStream(a, [{ type: 'Opened', data: {} }]);
      await store.appendToStream(b, [{ type: 'Opened', data: {} }, { type: 'Closed', data: {} }]);
      await store.appendToStream(`other${category}-1`, [{ type: 'Closed', data: {} }]);

      await eventually(async () => {
        const inCategory = await store.readAll({ categories: [category] });
        expect(inCategory.map((e) => [e.streamId, e.type])).toEqual([
          [a, 'Opened'],
          [b, 'Opened'],
          [b, 'Closed'],
        ]);
      });
      const closed = await store.readAll({ categories: [category], types: ['Closed'] });
      expect(closed.map((e) => e.streamId)).toEqual([b]);
      const afterFirst = await store.readAll({ categories: [category], after: r1.lastGlobalPosition, limit: 1 });
      expect(afterFirst.map((e) => [e.streamId, e.version])).toEqual([[b, 1]]);
      expect(await store.readAll({ types: [] })).toEqual([]);
      const head = await store.headPosition();
      expect(head).toBeGreaterThanOrEqual(r1.lastGlobalPosition);
      expect(await store.readAll({ after: head })).toEqual([]);
    });

    // Issue 11, items 6 and 7: filters went to the server as one parameter per name (past
    // 65,535 of them: 08P01), and positions past int8 as a raw 22003 out-of-range error.
    it('takes filters and id lists of 70,000 entries', async () => {
      const store = getStore();
      const category = `big${randomUUID().slice(0, 8)}`;
      const names = (prefix: string) => Array.from({ length: 69_999 }, (_, i) => `${prefix}${i}`);
      const { eventIds } = await store.appendToStream(`${category}-1`, [{ type: `Wanted${category}`, data: {} }]);
      await eventually(async () => {
        const byType = await store.readAll({ types: [...names('Type'), `Wanted${category}`] });
        expect(byType.map((e) => e.id)).toEqual(eventIds);
      });
      const byCategory = await store.readAll({ categories: [...names('cat'), category] });
      expect(byCategory.map((e) => e.id)).toEqual(eventIds);
      const byBoth = await store.readAll({ types: names('Type'), categories: [...names('cat'), category] });
      expect(byBoth).toEqual([]);
      const byId = await store.readEventsById([...Array.from({ length: 69_999 }, () => randomUUID()), ...eventIds]);
      expect(byId.map((e) => e.id)).toEqual(eventIds);
    });

    it('accepts global positions up to 2^63 - 1 and refuses larger ones, naming the field', async () => {
      const store = getStore();
      const max = 2n ** 63n - 1n;
      expect(await store.readAll({ after: max })).toEqual([]);
      const name = `checkpoint-${randomUUID()}`;
      await store.saveCheckpoint(name, max);
      expect(await store.readCheckpoint(name)).toBe(max);
      await expect(store.readAll({ after: max + 1n })).rejects.toMatchObject({ code: 'ANNALS_VALIDATION', field: 'options.after' });
      await expect(store.iterateAll({ after: max + 1n })[Symbol.asyncIterator]().next()).rejects.toMatchObject({
        code: 'ANNALS_VALIDATION',
        field: 'options.after',
      });
      await expect(store.saveCheckpoint(name, max + 1n)).rejects.toMatchObject({ code: 'ANNALS_VALIDATION', field: 'position' });
      await expect(store.withTransaction((tx) => tx.saveCheckpoint(name, 2n ** 64n))).rejects.toMatchObject({ field: 'position' });
    });

    it('counts the events readAll would return, and tells when the first was recorded', async () => {
      const store = getStore();
      const category = `count${randomUUID().slice(0, 8)}`;
      await store.appendToStream(`${category}-1`, [{ type: 'Opened', data: {} }, { type: 'Closed', data: {} }]);
      await store.appendToStream(`${category}-2`, [{ type: 'Opened', data: {} }]);
      await store.appendToStream(`other${category}-1`, [{ type: 'Opened', data: {} }]);
      const all = await eventually(async () => {
        const read = await store.readAll({ categories: [category] });
        expect(read).toHaveLength(3);
        return read;
      });
      const [a, b, c] = all as [RecordedEvent, RecordedEvent, RecordedEvent];

      expect(await store.countEvents({ categories: [category] })).toEqual({ count: 3, oldestRecordedAt: a.recordedAt });
      expect(await store.countEvents({ categories: [category], types: ['Opened'] })).toEqual({ count: 2, oldestRecordedAt: a.recordedAt });
      expect(await store.countEvents({ categories: [category], types: ['Closed'] })).toEqual({ count: 1, oldestRecordedAt: b.recordedAt });
      expect(await store.countEvents({ categories: [category], after: a.globalPosition })).toEqual({ count: 2, oldestRecordedAt: b.recordedAt });
      expect(await store.countEvents({ categories: [category], after: a.globalPosition, until: b.globalPosition })).toEqual({
        count: 1,
        oldestRecordedAt: b.recordedAt,
      });
      expect(await store.countEvents({ categories: [category], after: c.globalPosition })).toEqual({ count: 0, oldestRecordedAt: null });
      expect(await store.countEvents({ categories: [category], types: [] })).toEqual({ count: 0, oldestRecordedAt: null });
      // Without filters: the whole log up to the head, as readAll returns it.
      const head = await store.headPosition();
      expect((await store.countEvents({ until: head })).count).toBe((await store.readAll()).filter((e) => e.globalPosition <= head).length);
      expect(await store.withTransaction((tx) => tx.countEvents({ categories: [category], until: b.globalPosition }))).toEqual({
        count: 2,
        oldestRecordedAt: a.recordedAt,
      });

      await expect(store.countEvents({ until: -1n })).rejects.toMatchObject({ code: 'ANNALS_VALIDATION', field: 'options.until' });
      await expect(store.countEvents({ after: 2n ** 63n })).rejects.toMatchObject({ code: 'ANNALS_VALIDATION', field: 'options.after' });
    });

    it('reads events by global position, in log order, leaving out positions with no event', async () => {
      const store = getStore();
      const id = stream();
      await store.appendToStream(id, [like('a'), like('b'), like('c')]);
      const events = await store.readStream(id);
      const [a, , c] = events.map((event) => event.globalPosition) as [bigint, bigint, bigint];

      expect(await store.readEventsAt([c, 1n, a])).toEqual([events[0], events[2]]);
      expect(await store.readEventsAt([])).toEqual([]);
      // Inside a transaction, its own events too (readAll shows them only once it commits).
      await store.withTransaction(async (tx) => {
        const { lastGlobalPosition } = await tx.appendToStream(id, [like('d')]);
        expect((await tx.readEventsAt([lastGlobalPosition, a])).map((event) => event.data)).toEqual([{ userId: 'a' }, { userId: 'd' }]);
      });

      await expect(store.readEventsAt([-1n])).rejects.toMatchObject({ code: 'ANNALS_VALIDATION', field: 'positions[0]' });
      await expect(store.readEventsAt(Array.from({ length: 100_001 }, () => 1n))).rejects.toMatchObject({ field: 'positions' });
    });

    it('reads every committed event with readAllCommitted, filtered and up to a position', async () => {
      const store = getStore();
      const category = `committed${randomUUID().slice(0, 8)}`;
      await store.appendToStream(`${category}-1`, [{ type: 'Opened', data: {} }]);
      await store.appendToStream(`${category}-2`, [{ type: 'Opened', data: {} }, { type: 'Closed', data: {} }]);
      await store.appendToStream(`other${category}-1`, [{ type: 'Closed', data: {} }]);

      // Committed: there at once, with no open appender of this store to wait for.
      const all = await store.readAllCommitted({ categories: [category] });
      expect(all.map((e) => [e.streamId, e.type])).toEqual([
        [`${category}-1`, 'Opened'],
        [`${category}-2`, 'Opened'],
        [`${category}-2`, 'Closed'],
      ]);
      const [a, b, c] = all as [RecordedEvent, RecordedEvent, RecordedEvent];
      expect(await store.readAllCommitted({ categories: [category], types: ['Closed'] })).toEqual([c]);
      expect(await store.readAllCommitted({ categories: [category], after: a.globalPosition, until: b.globalPosition })).toEqual([b]);
      expect(await store.readAllCommitted({ categories: [category], until: a.globalPosition })).toEqual([a]);
      expect(await store.readAllCommitted({ categories: [category], limit: 2 })).toEqual([a, b]);
      expect(await store.readAllCommitted({ categories: [category], types: [] })).toEqual([]);
      await eventually(async () => expect(await store.readAll({ categories: [category] })).toEqual(all));

      // Inside a transaction, its own events too; rolled back, they are gone.
      const rolledBack = new Error('rolled back');
      await expect(
        store.withTransaction(async (tx) => {
          await tx.appendToStream(`${category}-3`, [{ type: 'Opened', data: {} }]);
          expect((await tx.readAllCommitted({ categories: [category] })).map((e) => e.streamId)).toEqual([...all.map((e) => e.streamId), `${category}-3`]);
          throw rolledBack;
        }),
      ).rejects.toBe(rolledBack);
      expect(await store.readAllCommitted({ categories: [category] })).toEqual(all);

      await expect(store.readAllCommitted({ until: 2n ** 63n })).rejects.toMatchObject({ code: 'ANNALS_VALIDATION', field: 'options.until' });
      await expect(store.readAllCommitted({ limit: 0 })).rejects.toMatchObject({ code: 'ANNALS_VALIDATION', field: 'options.limit' });
    });

    it('commits the events of a transaction together, or none of them', async () => {
      const store = getStore();
      const a = stream();
      const b = stream();
      await store.withTransaction(async (tx) => {
        await tx.appendToStream(a, [like('x')]);
        await tx.appendToStream(b, [like('y'), like('z')]);
        await tx.appendToStream(a, [like('w')], { expectedVersion: 1 });
        expect((await tx.readStream(a)).length).toBe(2);
      });
      expect((await store.readStream(a)).map((e) => e.version)).toEqual([1, 2]);
      const positions = [...(await store.readStream(a)), ...(await store.readStream(b))].map((e) => e.globalPosition);
      expect(new Set(positions).size).toBe(4);

      const c = stream();
      await expect(
        store.withTransaction(async (tx) => {
          await tx.appendToStream(c, [like('x')]);
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      expect(await store.getStreamInfo(c)).toBeNull();
      expect(await store.readStream(c)).toEqual([]);
    });

    it('soft-deletes a stream, and recreates it on a no_stream append', async () => {
      const store = getStore();
      const id = stream();
      await store.appendToStream(id, [like('a'), like('b')]);
      await store.deleteStream(id, { expectedVersion: 2 });
      await store.deleteStream(id); // deleting again does nothing

      await expect(store.readStream(id)).rejects.toBeInstanceOf(StreamDeletedError);
      await expect(store.appendToStream(id, [like('c')])).rejects.toMatchObject({ code: 'ANNALS_STREAM_DELETED', streamId: id });
      await expect(store.appendToStream(id, [like('c')], { expectedVersion: 2 })).rejects.toBeInstanceOf(StreamDeletedError);
      expect(await store.getStreamInfo(id)).toMatchObject({ deleted: true, version: 2 });

      const recreated = await store.appendToStream(id, [like('c')], { expectedVersion: 'no_stream' });
      expect(recreated.nextExpectedVersion).toBe(3);
      expect((await store.readStream(id)).map((e) => [e.version, e.data])).toEqual([[3, { userId: 'c' }]]);
      expect(await store.getStreamInfo(id)).toMatchObject({ deleted: false, version: 3, truncateBefore: 3 });
      // The global log is history: the deleted events are still in it.
      await eventually(async () => {
        const category = id.split('-')[0]!;
        const logged = (await store.readAll({ categories: [category] })).filter((e) => e.streamId === id);
        expect(logged.map((e) => e.version)).toEqual([1, 2, 3]);
      });
    });

    it('refuses to delete a stream at another version', async () => {
      const store = getStore();
      const id = stream();
      await store.appendToStream(id, [like('a')]);
      await expect(store.deleteStream(id, { expectedVersion: 5 })).rejects.toMatchObject({ code: 'ANNALS_CONCURRENCY', actual: 1 });
      await expect(store.deleteStream(stream(), { expectedVersion: 'stream_exists' })).rejects.toBeInstanceOf(ConcurrencyError);
      await expect(store.deleteStream(id, { expectedVersion: 'no_stream' })).rejects.toMatchObject({ expected: 'no_stream', actual: 1 });
      await store.deleteStream(stream(), { expectedVersion: 'no_stream' }); // absent, as expected: nothing to do
      await store.deleteStream(stream()); // absent: nothing to do
      expect((await store.getStreamInfo(id))?.deleted).toBe(false);
    });

    it('truncates a stream before a version; versions go on', async () => {
      const store = getStore();
      const id = stream();
      await store.appendToStream(id, Array.from({ length: 5 }, (_, i) => like(`u${i}`)));
      expect(await store.truncateStream(id, { before: 4 })).toEqual({ truncateBefore: 4 });
      expect((await store.readStream(id)).map((e) => e.version)).toEqual([4, 5]);
      expect((await store.readStream(id, { fromVersion: 1, toVersion: 4 })).map((e) => e.version)).toEqual([4]);
      // Never backward, never past the end.
      expect(await store.truncateStream(id, { before: 2 })).toEqual({ truncateBefore: 4 });
      expect(await store.truncateStream(id, { before: 99 })).toEqual({ truncateBefore: 6 });
      expect(await store.readStream(id)).toEqual([]);
      const next = await store.appendToStream(id, [like('late')], { expectedVersion: 5 });
      expect(next.nextExpectedVersion).toBe(6);
      expect((await store.readStream(id)).map((e) => e.version)).toEqual([6]);
      expect(await store.truncateStream(stream('missing'), { before: 3 })).toEqual({ truncateBefore: 0 });
    });

    it('reads the snapshot of the wanted shape and the events after it in one call', async () => {
      const store = getStore();
      const id = stream('account');
      expect(await store.readStreamFromSnapshot(id, { snapshotVersion: 1 })).toEqual({ snapshot: null, events: [], stream: null });

      await store.appendToStream(id, [like('a'), like('b'), like('c'), like('d'), like('e')]);
      const noSnapshot = await store.readStreamFromSnapshot(id, { snapshotVersion: 1, limit: 2 });
      expect(noSnapshot.snapshot).toBeNull();
      expect(noSnapshot.events.map((e) => e.version)).toEqual([1, 2]);

      await store.writeSnapshot(id, { snapshotVersion: 1, streamVersion: 3, state: { likes: ['a', 'b', 'c'] } });
      const read = await store.readStreamFromSnapshot(id, { snapshotVersion: 1 });
      expect(read.snapshot).toEqual({ snapshotVersion: 1, streamVersion: 3, state: { likes: ['a', 'b', 'c'] } });
      expect(read.events.map((e) => [e.version, e.data])).toEqual([
        [4, { userId: 'd' }],
        [5, { userId: 'e' }],
      ]);
      // A snapshot of another shape counts as none.
      const otherShape = await store.readStreamFromSnapshot(id, { snapshotVersion: 2 });
      expect(otherShape.snapshot).toBeNull();
      expect(otherShape.events.map((e) => e.version)).toEqual([1, 2, 3, 4, 5]);

      // A snapshot at the head: no events after it, the snapshot still comes back.
      await store.writeSnapshot(id, { snapshotVersion: 1, streamVersion: 5, state: { likes: 5 } });
      expect(await store.readStreamFromSnapshot(id, { snapshotVersion: 1 })).toEqual({
        snapshot: { snapshotVersion: 1, streamVersion: 5, state: { likes: 5 } },
        events: [],
        stream: { version: 5, truncateBefore: 0, historyStart: 1 },
      });

      // Truncation still applies to what comes after the snapshot.
      const truncated = stream('account');
      await store.appendToStream(truncated, [like('a'), like('b'), like('c'), like('d')]);
      await store.writeSnapshot(truncated, { snapshotVersion: 1, streamVersion: 1, state: {} });
      await store.truncateStream(truncated, { before: 3 });
      const afterTruncation = await store.readStreamFromSnapshot(truncated, { snapshotVersion: 1 });
      expect(afterTruncation.events.map((e) => e.version)).toEqual([3, 4]);
      expect(afterTruncation.stream).toMatchObject({ version: 4, truncateBefore: 3 });

      await store.deleteStream(id);
      await expect(store.readStreamFromSnapshot(id, { snapshotVersion: 1 })).rejects.toBeInstanceOf(StreamDeletedError);
    });

    it('refuses a snapshot state JSON or jsonb cannot hold with a ValidationError on snapshot.state', async () => {
      // Review of issue 11: a bigint was a raw TypeError, a lone surrogate a 22P02 and
      // deep nesting a RangeError.
      const store = getStore();
      const id = stream('account');
      await store.appendToStream(id, [like('a')]);
      let deep: unknown = 0;
      for (let depth = 0; depth < 10_000; depth++) deep = [deep];
      for (const state of [{ n: 1n }, { name: '\uD83D' }, deep, undefined]) {
        const error = await store.writeSnapshot(id, { snapshotVersion: 1, streamVersion: 1, state }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).field).toMatch(/^snapshot\.state/);
      }
      expect((await store.readStreamFromSnapshot(id, { snapshotVersion: 1 })).snapshot).toBeNull();
    });

    it('treats a retried append with the same event ids as done', async () => {
      const store = getStore();
      const id = stream();
      const events = [
        { ...like('a'), id: randomUUID() },
        { ...like('b'), id: randomUUID() },
      ];
      const original = await store.appendToStream(id, events, { expectedVersion: 'no_stream' });
      expect(original.written).toBe(true);
      // A client that timed out retries with the same request: same answer, nothing written.
      const retried = await store.appendToStream(id, events, { expectedVersion: 'no_stream' });
      const retriedAny = await store.appendToStream(id, events);
      expect(retried).toEqual({ ...original, written: false });
      expect(retriedAny).toEqual({ ...original, written: false });
      const inTransaction = await store.withTransaction((tx) => tx.appendToStream(id, events, { expectedVersion: 0 }));
      expect(inTransaction).toEqual({ ...original, written: false });
      expect((await store.readStream(id)).length).toBe(2);

      // Within one transaction too: the second call finds what the first one wrote.
      const again = [{ ...like('c'), id: randomUUID() }];
      const [first, second] = await store.withTransaction(async (tx) => [
        await tx.appendToStream(id, again),
        await tx.appendToStream(id, again),
      ]);
      expect(first!.written).toBe(true);
      expect(second).toEqual({ ...first, written: false });
      expect((await store.readStream(id)).length).toBe(3);
    });

    it('rejects reuse of an event id with another payload, stream or batch', async () => {
      const store = getStore();
      const id = stream();
      const eventId = randomUUID();
      await store.appendToStream(id, [{ ...like('a'), id: eventId }]);

      await expect(store.appendToStream(id, [{ ...like('someone else'), id: eventId }])).rejects.toMatchObject({
        code: 'ANNALS_IDEMPOTENCY_CONFLICT',
        eventId,
      });
      await expect(store.appendToStream(stream(), [{ ...like('a'), id: eventId }])).rejects.toMatchObject({
        code: 'ANNALS_IDEMPOTENCY_CONFLICT',
        reason: expect.stringContaining(`stream '${id}'`),
      });
      await expect(store.appendToStream(id, [{ ...like('a'), id: eventId }, like('new')])).rejects.toMatchObject({
        code: 'ANNALS_IDEMPOTENCY_CONFLICT',
      });
      await expect(
        store.withTransaction((tx) => tx.appendToStream(id, [{ ...like('other'), id: eventId }])),
      ).rejects.toMatchObject({ code: 'ANNALS_IDEMPOTENCY_CONFLICT' });
      expect((await store.readStream(id)).length).toBe(1);
    });

    it('stores strings with quotes, unicode and SQL fragments verbatim', async () => {
      const store = getStore();
      const id = `post-'; DROP TABLE events; -- "quoted" ü 👍 ${randomUUID()}`;
      const nasty = {
        quotes: `it's "double" and 'single' and \`back\``,
        sql: "'); DELETE FROM streams; --",
        backslashes: 'C:\\path\\to\\file \\n not a newline',
        unicode: 'Zürich · 東京 · مرحبا · 🎉👍🏽 · \u2028\u2029 · e\u0301',
        dollar: '$1 $$ body $$',
        braces: '{"not": "json"} [1,2]',
        array: ['a', "b'", 'c"', '{x}', 'NULL', null],
        nested: { 'key with spaces': true, 'ключ': 1.5, '': 'empty key' },
      };
      const metadata = { user: "o'brien", trace: '"; SELECT 1; --' };
      await store.appendToStream(id, [{ type: "Type'With\"Quotes", data: nasty, metadata }]);
      const [event] = await store.readStream(id);
      expect(event!.streamId).toBe(id);
      expect(event!.type).toBe("Type'With\"Quotes");
      expect(event!.data).toEqual(nasty);
      expect(event!.metadata).toEqual(metadata);
      expect((await store.getStreamInfo(id))?.category).toBe('post');
    });
  });
}
