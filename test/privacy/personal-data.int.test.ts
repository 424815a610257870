import { afterAll, describe, expect, it } from 'vitest';
import type { EventStore } from '../../src/index.js';
import { z } from 'zod';
import {
  createEventStore,
  defineAggregate,
  forget,
  handleCommand,
  loadAggregate,
  PrivacyKeyError,
  ValidationError,
  verifyErasure,
  defineProjection,
  catchUpProjections,
  listDeadLetters,
} from '../../src/index.js';
import { createTestStore, testDatabaseUrl } from '../setup/database.js';

// Personal fields are sealed with their subject's key on the way in and opened on the
// way out; once the subject is forgotten they read as their redacted value, everywhere.

const postgres = await createTestStore('personal_data');
const pglite = createEventStore({ pglite: 'memory://' }, { schema: 'annals' });
await pglite.migrate();
afterAll(() => pglite.close());

const member = defineAggregate({
  category: 'member',
  initialState: () => ({ email: null as string | null, name: null as string | null, visits: 0 }),
  events: {
    Joined: z
      .object({ memberId: z.string(), email: z.email().meta({ personal: { redacted: 'erased@example.invalid' } }), name: z.string().meta({ personal: true }), plan: z.string() })
      .meta({ dataSubject: 'memberId' }),
    Visited: z.object({ memberId: z.string() }),
  },
  commands: { Join: z.object({ memberId: z.string(), email: z.string(), name: z.string() }), Visit: z.object({}) },
  evolve: (state, event) =>
    event.type === 'Joined' ? { ...state, email: event.data.email, name: event.data.name } : { ...state, visits: state.visits + 1 },
  decide: (command, state) =>
    command.type === 'Join'
      ? { type: 'Joined', data: { memberId: command.data.memberId, email: command.data.email, name: command.data.name, plan: 'basic' } }
      : { type: 'Visited', data: { memberId: state.email ?? '?' } },
});

const rawRows = (store: EventStore, streamId: string) =>
  store.withTransaction((tx) => tx.query<{ data: string }>(`SELECT data::text AS data FROM "${tx.schema}".events WHERE stream_id = $1`, [streamId]), { appends: false });

describe.each([
  ['Postgres', postgres],
  ['PGlite', pglite],
])('personal fields on %s', (_name, store) => {
  it('are stored sealed, read back opened by every read, and erased by forget', async () => {
    await handleCommand(store, member, 'm1', { type: 'Join', data: { memberId: 'm1', email: 'grace@example.com', name: 'Grace Hopper' } });
    const raw = (await rawRows(store, 'member-m1')).map((row) => row.data).join('\n');
    expect(raw).not.toContain('grace@example.com');
    expect(raw).not.toContain('Grace Hopper');
    expect(raw).toContain('"plan": "basic"');

    const [event] = await store.readStream('member-m1');
    expect(event!.data).toEqual({ memberId: 'm1', email: 'grace@example.com', name: 'Grace Hopper', plan: 'basic' });
    expect(event!.erased).toBeUndefined();
    const [fromLog] = (await store.readAll()).filter((e) => e.streamId === 'member-m1');
    expect(fromLog!.data).toEqual(event!.data);
    expect((await loadAggregate(store, member, 'm1')).state.name).toBe('Grace Hopper');

    const before = await verifyErasure(store, 'm1');
    expect(before.forgotten).toBe(false);
    expect(before.findings.map((f) => f.place)).toEqual(['key']);

    const result = await forget(store, 'm1');
    expect(result.keysDeleted).toBe(1);
    expect(result.report.clean).toBe(true);
    const [erased] = await store.readStream('member-m1');
    expect(erased!.data).toEqual({ memberId: 'm1', email: null, name: null, plan: 'basic' });
    expect(erased!.erased?.sort()).toEqual(['email', 'name']);
    const loaded = await loadAggregate(store, member, 'm1');
    expect(loaded.state).toMatchObject({ email: 'erased@example.invalid', name: '[erased]' });
    // The aggregate still takes commands.
    await handleCommand(store, member, 'm1', { type: 'Visit', data: {} });
    const [tombstone] = await store.readStream('annals_privacy-forgotten');
    expect(tombstone).toMatchObject({ type: 'SubjectForgotten', data: { subject: 'm1', keysDeleted: 1 } });
    // Forgetting again is harmless.
    expect((await forget(store, 'm1')).keysDeleted).toBe(0);
  });

  it('gives a returning subject a new key; the old fields stay erased', async () => {
    await handleCommand(store, member, 'm2', { type: 'Join', data: { memberId: 'm2', email: 'ada@example.com', name: 'Ada' } });
    await forget(store, 'm2');
    await store.appendToStream('member-m2', [{ type: 'Joined', data: { memberId: 'm2', email: 'ada2@example.com', name: 'Ada L', plan: 'pro' }, personal: [{ subject: 'm2', fields: ['email', 'name'] }] }]);
    const events = await store.readStream('member-m2');
    expect(events.map((e) => (e.data as { email: unknown }).email)).toEqual([null, 'ada2@example.com']);
  });

  it('an idempotent retry of a sealed append returns the first result', async () => {
    const id = '7d0f3c52-4a1e-4b8e-9a53-0c2b2f6a1d11';
    const event = { id, type: 'Joined', data: { memberId: 'm3', email: 'x@example.com', name: 'X', plan: 'basic' }, personal: [{ subject: 'm3', fields: ['email'] }] };
    const first = await store.appendToStream('member-m3', [event]);
    const again = await store.appendToStream('member-m3', [event]);
    expect(again).toMatchObject({ written: false, lastGlobalPosition: first.lastGlobalPosition });
  });

  it('saves no snapshot of a state read before its subject was forgotten', async () => {
    const joined = (email: string) => ({ type: 'Joined', data: { memberId: 'm7', email, name: 'N', plan: 'basic' }, personal: [{ subject: 'm7', fields: ['email', 'name'] }] });
    await store.appendToStream('member-m7', [joined('old@example.com')]);
    // A command that read the stream at version 1, still holding the plaintext...
    await forget(store, 'm7');
    // ...and saves its snapshot after the forget: not saved.
    await store.writeSnapshot('member-m7', { snapshotVersion: 1, streamVersion: 1, state: { email: 'old@example.com' } });
    expect(await store.readSnapshot('member-m7')).toBeNull();
    // The subject returns (a new key); a state read at version 1 still predates the forget.
    await store.appendToStream('member-m7', [joined('new@example.com')]);
    await store.writeSnapshot('member-m7', { snapshotVersion: 1, streamVersion: 2, state: { email: 'old@example.com' } }, { loadedVersion: 1 });
    expect(await store.readSnapshot('member-m7')).toBeNull();
    // Read after the forget, the state holds only what may be kept: saved.
    await store.writeSnapshot('member-m7', { snapshotVersion: 1, streamVersion: 2, state: { email: 'new@example.com' } });
    expect(await store.readSnapshot('member-m7')).toMatchObject({ streamVersion: 2 });
    await expect(store.writeSnapshot('member-m7', { snapshotVersion: 1, streamVersion: 2, state: {} }, { loadedVersion: -1 })).rejects.toMatchObject({ field: 'options.loadedVersion' });
  });

  it('refuses personal markings that name no field, or the reserved key', async () => {
    await expect(store.appendToStream('member-m4', [{ type: 'Joined', data: { memberId: 'm4' }, personal: [{ subject: 'm4', fields: ['email'] }] }])).rejects.toMatchObject({
      field: 'events[0].personal[0].fields[0]',
    });
    await expect(store.appendToStream('member-m4', [{ type: 'Joined', data: { $personal: [] } }])).rejects.toBeInstanceOf(ValidationError);
    expect(() =>
      defineAggregate({ ...member, events: { Bad: z.object({ id: z.string(), age: z.number().meta({ personal: true }) }).meta({ dataSubject: 'id' }) } } as never),
    ).toThrow(/events\.Bad\.age: its schema refuses the redacted value null/);
    expect(() => defineAggregate({ ...member, events: { Bad: z.object({ name: z.string().meta({ personal: true }) }) } } as never)).toThrow(/names no data subject/);
    expect(() =>
      defineAggregate({ ...member, events: { Bad: z.object({ id: z.string(), contact: z.object({ email: z.email().meta({ personal: true }) }) }).meta({ dataSubject: 'id' }) } } as never),
    ).toThrow(/events\.Bad\.contact\.email: is marked personal where Annals cannot seal it/);
  });

});

describe('verification', () => {
  it("finds the plaintext a handler's error left in a dead letter", async () => {
    const store = postgres;
    const refusing = defineProjection({
      name: 'refusing-members',
      version: 1,
      events: member.events,
      categories: ['member'],
      schema: async () => {},
      apply: async (event) => {
        if (event.type === 'Joined' && event.data.memberId === 'm9') throw new Error(`no members called ${event.data.name}`);
      },
    });
    await handleCommand(store, member, 'm9', { type: 'Join', data: { memberId: 'm9', email: 'dl@example.com', name: 'Dora Letter' } });
    await catchUpProjections(store, [refusing], { retries: { attempts: 1, minDelayMs: 1, maxDelayMs: 1 } });
    // The precondition: the dead letter, with the name in its error, before the forget.
    const letters = await listDeadLetters(store, { projection: 'refusing-members' });
    expect(letters.map((letter) => letter.error)).toEqual([expect.stringContaining('Dora Letter')]);
    await forget(store, 'm9');
    const report = await verifyErasure(store, 'm9', { values: ['Dora Letter'] });
    expect(report.findings).toEqual([{ place: 'dead-letters', what: expect.any(String), count: 1, examples: [expect.stringMatching(/^refusing-members/)] }]);
    expect(report.clean).toBe(false);
  });

  it('finds an object field and a quoted string copied elsewhere, however the database formats them', async () => {
    const store = postgres;
    const address = { street: 'Baker "Upper" Street', city: 'Londinium' };
    await store.appendToStream('member-m10', [
      { type: 'Moved', data: { memberId: 'm10', address, nick: 'back\\slash' }, personal: [{ subject: 'm10', fields: ['address', 'nick'] }] },
    ]);
    // A careless copy of both, in plaintext, in another event's metadata.
    await store.appendToStream('audit-m10', [{ type: 'Noted', data: {}, metadata: { copied: { address, nick: 'back\\slash' } } }]);
    const report = await forget(store, 'm10');
    expect(report.report.valuesSearched).toBeGreaterThanOrEqual(3);
    expect(report.report.findings).toEqual([{ place: 'events', what: expect.any(String), count: 1, examples: [expect.stringMatching(/^audit-m10@/)] }]);
  });
});

describe('forget and a snapshot being saved', () => {
  it('a snapshot saved while forget runs is dropped with the others', async () => {
    const store = postgres;
    await handleCommand(store, member, 'm11', { type: 'Join', data: { memberId: 'm11', email: 'race@example.com', name: 'Race' } });
    let release!: () => void;
    let written!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const saved = new Promise<void>((resolve) => (written = resolve));
    // A command's snapshot, of a state read before the forget, in a transaction still open.
    const saving = store.withTransaction(async (tx) => {
      await tx.writeSnapshot('member-m11', { snapshotVersion: 1, streamVersion: 1, state: { email: 'race@example.com' } });
      written();
      await held;
    });
    await saved;
    let forgotten = false;
    const forgetting = forget(store, 'm11').then((result) => ((forgotten = true), result));
    await new Promise((resolve) => setTimeout(resolve, 300));
    // forget waits for the snapshot's transaction (it locks the subject's streams first)...
    expect(forgotten).toBe(false);
    release();
    await saving;
    // ...and then drops what it committed.
    expect((await forgetting).snapshotsDropped).toBe(1);
    expect(await store.readSnapshot('member-m11')).toBeNull();
  });
});

describe('master keys', () => {
  const store = postgres;
  it('a store opened with another master key says so, and one without a key names the variable', async () => {
    const other = createEventStore({ connectionString: testDatabaseUrl }, { schema: store.schema, privacy: { masterKey: Buffer.alloc(32, 7) } });
    try {
      await handleCommand(store, member, 'm5', { type: 'Join', data: { memberId: 'm5', email: 'y@example.com', name: 'Y' } });
      const error = await other.readStream('member-m5').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PrivacyKeyError);
      expect(error).toMatchObject({ code: 'ANNALS_PRIVACY_KEY', problem: 'mismatch' });
      // Nor may it add a key of its own for a new subject, which every other process would refuse.
      const append = other.appendToStream('member-m6', [
        { type: 'Joined', data: { memberId: 'm6', email: 'z@example.com', name: 'Z', plan: 'basic' }, personal: [{ subject: 'm6', fields: ['email'] }] },
      ]);
      await expect(append).rejects.toMatchObject({ code: 'ANNALS_PRIVACY_KEY', problem: 'mismatch' });
      expect(await store.readStream('member-m6')).toEqual([]);
    } finally {
      await other.close();
    }
    const saved = process.env.ANNALS_MASTER_KEY;
    delete process.env.ANNALS_MASTER_KEY;
    const none = createEventStore({ connectionString: testDatabaseUrl }, { schema: store.schema });
    try {
      const error = await none.readStream('member-m5').catch((e: unknown) => e);
      expect(error).toMatchObject({ problem: 'missing', message: expect.stringContaining('ANNALS_MASTER_KEY') });
      // Events without personal fields need no key.
      expect(await none.readStream('annals_privacy-forgotten')).not.toHaveLength(0);
    } finally {
      process.env.ANNALS_MASTER_KEY = saved;
      await none.close();
    }
  });
});
