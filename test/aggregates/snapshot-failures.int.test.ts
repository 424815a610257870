import { randomBytes, randomUUID } from 'node:crypto';
import { defineAggregate, handleCommand, loadAggregate, ValidationError, type AnyAggregate, type EventStore } from 'annals';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestStore } from '../setup/database.js';

// Issue 11, item 3: the snapshot was written after the append, in the same `try`, and its
// error reached the caller. A command whose events were committed was reported as failed,
// and a caller retrying it without a command id applied it twice (a double deposit).
const store: EventStore = await createTestStore('snapshot_failures');

const category = (name: string) => `${name}_${randomBytes(4).toString('hex')}`;

/** A logger that keeps what handleCommand reports. */
function recordingLogger() {
  const warnings: { details: Record<string, unknown>; message: string }[] = [];
  return { warnings, logger: { warn: (details: object, message: string) => warnings.push({ details: details as Record<string, unknown>, message }) } };
}

/**
 * A counter snapshotting every 2 events, whose state after each event is `state.next`'s:
 * what a snapshot then has to carry (a bigint, a lone surrogate…).
 */
function counter<S>(name: string, state: { initial: () => S; next: (count: number, text: string) => S; count: (state: S) => number }, snapshots: object = {}) {
  return defineAggregate({
    category: category(name),
    initialState: state.initial,
    events: { Added: z.object({ text: z.string() }) },
    commands: { Add: z.object({ text: z.string() }) },
    evolve: (current, event) => state.next(state.count(current) + 1, event.data.text),
    decide: (command) => ({ type: 'Added', data: { text: command.data.text } }),
    snapshots: { every: 2, version: 1, ...snapshots },
  });
}

/** Three commands on a new stream, each answered; the second crosses the snapshot point. */
async function threeCommands(aggregate: AnyAggregate, text = 'hi') {
  const { logger, warnings } = recordingLogger();
  const id = randomUUID();
  const results = [];
  for (let i = 0; i < 3; i++) results.push(await handleCommand(store, aggregate, id, { type: 'Add', data: { text } }, { logger }));
  const streamId = aggregate.streamId(id);
  return { id, streamId, results, warnings, events: await store.readStream(streamId), snapshot: await store.readSnapshot(streamId) };
}

/** What every failed snapshot must leave: answered commands, their events once each, a warning. */
function expectAnsweredAndLogged(run: Awaited<ReturnType<typeof threeCommands>>, aggregate: AnyAggregate, reason: RegExp) {
  expect(run.results.map((result) => result.nextExpectedVersion)).toEqual([1, 2, 3]);
  expect(run.events).toHaveLength(3);
  expect(run.snapshot).toBeNull();
  expect(aggregate.snapshotCounts).toEqual({ written: 0, failed: 1 });
  expect(run.warnings).toHaveLength(1);
  const [warning] = run.warnings;
  expect(warning!.details).toMatchObject({ aggregate: aggregate.category, streamId: run.streamId, streamVersion: 2, snapshotVersion: 1 });
  expect(String(warning!.details.err)).toMatch(reason);
  expect(warning!.message).toMatch(/snapshot/);
}

describe('a snapshot that cannot be saved never fails the committed command', () => {
  it('a state holding a bigint, without toSnapshot: refused before the database, logged and counted', async () => {
    const aggregate = counter('bigint', {
      initial: () => ({ count: 0, total: null as bigint | null }),
      next: (count) => ({ count, total: BigInt(count) }),
      count: (state) => state.count,
    });
    const run = await threeCommands(aggregate);
    expectAnsweredAndLogged(run, aggregate, /BigInt/);
    expect(run.warnings[0]!.details.err).toBeInstanceOf(ValidationError);
    expect((await loadAggregate(store, aggregate, run.id)).state).toEqual({ count: 3, total: 3n });
  });

  it('a string with a lone surrogate (an emoji cut by slice), which Postgres refuses in jsonb', async () => {
    const aggregate = counter('surrogate', {
      initial: () => ({ count: 0, initial: '' }),
      next: (count, text) => ({ count, initial: text.slice(0, 1) }),
      count: (state) => state.count,
    });
    const run = await threeCommands(aggregate, '😀 hello');
    expectAnsweredAndLogged(run, aggregate, /state\.initial.*lone surrogate/);
    expect((await loadAggregate(store, aggregate, run.id)).state).toEqual({ count: 3, initial: '\ud83d' });
  });

  it('a toSnapshot that throws', async () => {
    const aggregate = counter(
      'throwing',
      { initial: () => ({ count: 0 }), next: (count) => ({ count }), count: (state) => state.count },
      {
        toSnapshot: (state: { count: number }) => {
          if (state.count > 0) throw new RangeError('toSnapshot is broken');
          return state;
        },
      },
    );
    const run = await threeCommands(aggregate);
    expectAnsweredAndLogged(run, aggregate, /toSnapshot is broken/);
  });

  it('a state that does not come back the same (a Map, without toSnapshot): a snapshot would load a wrong state', async () => {
    const aggregate = counter('lossy', {
      initial: () => ({ count: 0, seen: null as Map<string, number> | null }),
      next: (count, text) => ({ count, seen: new Map([[text, count]]) }),
      count: (state) => state.count,
    });
    const run = await threeCommands(aggregate);
    expectAnsweredAndLogged(run, aggregate, /does not come back the same/);
    expect((await loadAggregate(store, aggregate, run.id)).state).toEqual({ count: 3, seen: new Map([['hi', 3]]) });
  });

  describe('the database failing the snapshot write', () => {
    // A real failure of the real statement: a trigger that raises on the snapshots table.
    const breakSnapshots = () =>
      store.withTransaction(async (tx) => {
        await tx.query(`CREATE OR REPLACE FUNCTION "${store.schema}".refuse_snapshot() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'snapshots are down'; END $$`);
        await tx.query(`CREATE TRIGGER refuse_snapshot BEFORE INSERT OR UPDATE ON "${store.schema}".snapshots
          FOR EACH ROW EXECUTE FUNCTION "${store.schema}".refuse_snapshot()`);
      });
    const repairSnapshots = () => store.withTransaction((tx) => tx.query(`DROP TRIGGER refuse_snapshot ON "${store.schema}".snapshots`));

    it('on the store', async () => {
      const aggregate = counter('dbdown', { initial: () => ({ count: 0 }), next: (count) => ({ count }), count: (state) => state.count });
      await breakSnapshots();
      try {
        const run = await threeCommands(aggregate);
        expectAnsweredAndLogged(run, aggregate, /snapshots are down/);
      } finally {
        await repairSnapshots();
      }
    });

    it('inside withTransaction: the caller’s transaction still commits, with the events and its own writes', async () => {
      const aggregate = counter('dbdowntx', { initial: () => ({ count: 0 }), next: (count) => ({ count }), count: (state) => state.count });
      const { logger, warnings } = recordingLogger();
      const id = randomUUID();
      await handleCommand(store, aggregate, id, { type: 'Add', data: { text: 'a' } });
      await breakSnapshots();
      try {
        const result = await store.withTransaction(async (tx) => {
          const answered = await handleCommand(tx, aggregate, id, { type: 'Add', data: { text: 'b' } }, { logger });
          // The transaction is still usable after the failed snapshot.
          await tx.query('SELECT 1');
          return answered;
        });
        expect(result.nextExpectedVersion).toBe(2);
      } finally {
        await repairSnapshots();
      }
      expect(await store.readStream(aggregate.streamId(id))).toHaveLength(2);
      expect(warnings.map((w) => w.details.streamVersion)).toEqual([2]);
      expect(aggregate.snapshotCounts).toEqual({ written: 0, failed: 1 });
      // Once the table is back, the next snapshot is written and counted.
      await handleCommand(store, aggregate, id, { type: 'Add', data: { text: 'c' } });
      await handleCommand(store, aggregate, id, { type: 'Add', data: { text: 'd' } });
      expect(await store.readSnapshot(aggregate.streamId(id))).toMatchObject({ streamVersion: 4, state: { count: 4 } });
      expect(aggregate.snapshotCounts).toEqual({ written: 1, failed: 1 });
    });
  });

  it('refuses a logger without warn, naming the option', async () => {
    const aggregate = counter('badlogger', { initial: () => ({ count: 0 }), next: (count) => ({ count }), count: (state) => state.count });
    await expect(handleCommand(store, aggregate, randomUUID(), { type: 'Add', data: { text: 'x' } }, { logger: {} as never })).rejects.toMatchObject({
      constructor: ValidationError,
      field: 'options.logger',
    });
  });

  it('without a logger, reports a process warning', async () => {
    const aggregate = counter('nolog', {
      initial: () => ({ count: 0, total: null as bigint | null }),
      next: (count) => ({ count, total: BigInt(count) }),
      count: (state) => state.count,
    });
    const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
    const id = randomUUID();
    for (let i = 0; i < 2; i++) await handleCommand(store, aggregate, id, { type: 'Add', data: { text: 'x' } });
    const warning = await warned;
    expect(warning.name).toBe('AnnalsSnapshotWarning');
    expect(warning.message).toContain(`stream '${aggregate.streamId(id)}'`);
    expect(warning.message).toContain('version 2');
  });
});

describe('a state that cannot survive a snapshot is refused when the aggregate is defined', () => {
  const refused = (snapshots: object, initialState: () => unknown) => {
    const name = category('refused');
    try {
      defineAggregate({
        category: name,
        initialState,
        events: { Added: z.object({}) },
        commands: { Add: z.object({}) },
        evolve: (state) => state,
        decide: () => [],
        snapshots: { every: 10, version: 1, ...snapshots },
      });
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).field).toBe(`aggregate.${name}.snapshots`);
      return (error as ValidationError).reason;
    }
    throw new Error('defined without an error');
  };

  it('a bigint without toSnapshot', () => {
    expect(refused({}, () => ({ total: 0n }))).toMatch(/initialState\(\).*BigInt.*toSnapshot/);
  });

  it('a Set or a Date without toSnapshot / fromSnapshot', () => {
    expect(refused({}, () => ({ likes: new Set<string>() }))).toMatch(/does not come back the same/);
    expect(refused({}, () => ({ at: new Date(0) }))).toMatch(/does not come back the same/);
  });

  it('a toSnapshot or fromSnapshot that throws, or a pair that loses something', () => {
    expect(refused({ toSnapshot: () => { throw new Error('no'); } }, () => ({}))).toMatch(/toSnapshot threw: no/);
    expect(refused({ toSnapshot: (s: unknown) => s, fromSnapshot: () => { throw new Error('no'); } }, () => ({}))).toMatch(/fromSnapshot threw: no/);
    expect(refused({ toSnapshot: () => ({}), fromSnapshot: () => ({ n: 1 }) }, () => ({ n: 0 }))).toMatch(/does not come back the same/);
  });

  it('while a pair that round-trips, and plain JSON states, are accepted (undefined properties included)', () => {
    const define = (snapshots: object, initialState: () => unknown) =>
      defineAggregate({
        category: category('accepted'),
        initialState,
        events: { Added: z.object({}) },
        commands: { Add: z.object({}) },
        evolve: (state) => state,
        decide: () => [],
        snapshots: { every: 10, version: 1, ...snapshots },
      });
    expect(() =>
      define(
        { toSnapshot: (s: { likes: Set<string> }) => ({ likes: [...s.likes] }), fromSnapshot: (d: unknown) => ({ likes: new Set((d as { likes: string[] }).likes) }) },
        () => ({ likes: new Set<string>() }),
      ),
    ).not.toThrow();
    expect(() => define({}, () => ({ status: 'new', owner: null, note: undefined, tags: [] as string[] }))).not.toThrow();
  });
});
