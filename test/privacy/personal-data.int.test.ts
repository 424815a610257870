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

  it('refuses personal markings that name no field, or the reserved key', async () => {
    await expect(store.appendToStream('member-m4', [{ type: 'Joined', data: { memberId: 'm4' }, personal: [{ subject: 'm4', fields: ['email'] }] }])).rejects.toMatchObject({
      field: 'events[0].personal[0].fields[0]',
    });
    await expect(store.appendToStream('member-m4', [{ type: 'Joined', data: { $personal: [] } }])).rejects.toBeInstanceOf(ValidationError);
    expect(() =>
      defineAggregate({ ...member, events: { Bad: z.object({ id: z.string(), age: z.number().meta({ personal: true }) }).meta({ dataSubject: 'id' }) } } as never),
    ).toThrow(/events\.Bad\.age: its schema refuses the redacted value null/);
    expect(() => defineAggregate({ ...member, events: { Bad: z.object({ name: z.string().meta({ personal: true }) }) } } as never)).toThrow(/names no data subject/);
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
