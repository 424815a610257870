/**
 * Loading an aggregate reads the data keys its events name within the load's own
 * statement (the store's key table), not in a second round trip: every command on an
 * aggregate with personal data loads it. What the load reveals must be exactly what a
 * separate key lookup gives: fields opened while the key exists, erased once it is
 * forgotten, refused under another master key or an altered key.
 */
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEventStore, defineAggregate, forget, handleCommand, loadAggregate, PrivacyKeyError, type EventStore } from '../../src/index.js';
import { countedStore } from '../graphql/support/likes-service.js';
import { createTestStore, testDatabaseUrl } from '../setup/database.js';

const { store, statements } = await countedStore('load_with_keys', 4);
const admin = new pg.Pool({ connectionString: testDatabaseUrl, max: 2 });
afterAll(() => admin.end());

/** Members; `snapshots` makes the load go through readStreamFromSnapshot rather than readStream. */
const memberAggregate = (category: string, snapshots?: { every: number; version: number }) => defineAggregate({
  category,
  ...(snapshots ? { snapshots } : {}),
  initialState: () => ({ email: null as string | null, name: null as string | null, visits: 0 }),
  events: {
    Joined: z
      .object({ memberId: z.string(), email: z.email().meta({ personal: { redacted: 'erased@example.invalid' } }), name: z.string().meta({ personal: true }) })
      .meta({ dataSubject: 'memberId' }),
    // A second subject's field in the same stream: a referrer's name.
    Referred: z.object({ referrerId: z.string(), referrer: z.string().meta({ personal: true }) }).meta({ dataSubject: 'referrerId' }),
    Visited: z.object({ memberId: z.string() }),
  },
  commands: {
    Join: z.object({ memberId: z.string(), email: z.string(), name: z.string() }),
    Refer: z.object({ referrerId: z.string(), referrer: z.string() }),
    Visit: z.object({ memberId: z.string() }),
  },
  evolve: (state, event) =>
    event.type === 'Joined' ? { ...state, email: event.data.email, name: event.data.name } : event.type === 'Visited' ? { ...state, visits: state.visits + 1 } : state,
  decide: (command) =>
    command.type === 'Join'
      ? { type: 'Joined', data: command.data }
      : command.type === 'Refer'
        ? { type: 'Referred', data: command.data }
        : { type: 'Visited', data: command.data },
});
const member = memberAggregate('member');

async function joined(id: string): Promise<void> {
  await handleCommand(store, member, id, { type: 'Join', data: { memberId: id, email: `${id}@example.com`, name: `Name ${id}` } });
  await handleCommand(store, member, id, { type: 'Refer', data: { referrerId: `ref-${id}`, referrer: `Referrer ${id}` } });
  await handleCommand(store, member, id, { type: 'Visit', data: { memberId: id } });
}

const loadEvents = (on: EventStore, id: string) => on.readStreamFromSnapshot(`member-${id}`, { snapshotVersion: 1 });

describe('loading an aggregate with personal data', () => {
  it.each([
    ['without a snapshot policy (readStream)', memberAggregate('member')],
    ['with one (readStreamFromSnapshot)', memberAggregate('member', { every: 100, version: 1 })],
  ])('is one statement, with every subject\'s fields opened: %s', async (_path, aggregate) => {
    const id = `a1-${aggregate.snapshots ? 's' : 'p'}`;
    await joined(id);
    const sent = await statements.during(async () => {
      const { state } = await loadAggregate(store, aggregate, id);
      expect(state).toEqual({ email: `${id}@example.com`, name: `Name ${id}`, visits: 1 });
    });
    // pg_notify: an earlier append's wake-up call, sent when it is due.
    const reads = sent.filter((text) => !text.startsWith('SELECT pg_notify'));
    expect(reads, sent.join('\n')).toHaveLength(1);
    const { events } = await loadEvents(store, id);
    expect(events.map((event) => event.data)).toEqual([
      { memberId: id, email: `${id}@example.com`, name: `Name ${id}` },
      { referrerId: `ref-${id}`, referrer: `Referrer ${id}` },
      { memberId: id },
    ]);
    // The same as a read that looks the keys up on its own.
    expect(events).toEqual(await store.readAll().then((all) => all.filter((event) => event.streamId === `member-${id}`)));
  });

  it('reads a forgotten subject\'s fields erased, and the other subject\'s still opened', async () => {
    await joined('a2');
    await forget(store, 'a2');
    const { events } = await loadEvents(store, 'a2');
    expect(events[0]).toMatchObject({ data: { memberId: 'a2', email: null, name: null }, erased: ['email', 'name'] });
    // The aggregate decodes the erased fields to their redacted values.
    expect((await loadAggregate(store, member, 'a2')).state).toEqual({ email: 'erased@example.invalid', name: '[erased]', visits: 1 });
    expect(events[1]).toMatchObject({ data: { referrerId: 'ref-a2', referrer: 'Referrer a2' } });
    expect(events[1]!.erased).toBeUndefined();
    expect(events).toEqual(await store.readAll().then((all) => all.filter((event) => event.streamId === 'member-a2')));
    expect(await store.readStream('member-a2')).toEqual(events);
    await forget(store, 'ref-a2');
    const [, referred] = (await loadEvents(store, 'a2')).events;
    expect(referred).toMatchObject({ data: { referrerId: 'ref-a2', referrer: null }, erased: ['referrer'] });
  });

  it('refuses under another master key, and names an altered key', async () => {
    await joined('a3');
    const other = createEventStore({ connectionString: testDatabaseUrl }, { schema: store.schema, privacy: { masterKey: Buffer.alloc(32, 9) } });
    try {
      await expect(loadEvents(other, 'a3')).rejects.toMatchObject({ code: 'ANNALS_PRIVACY_KEY', problem: 'mismatch' });
      // Events without personal fields need no key.
      await expect(loadEvents(other, 'nobody')).resolves.toMatchObject({ events: [], stream: null });
    } finally {
      await other.close();
    }
    await admin.query(`UPDATE "${store.schema}#keys".data_keys SET wrapped = '\\x00'::bytea || wrapped WHERE subject = 'a3'`);
    const error = await loadEvents(store, 'a3').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrivacyKeyError);
    expect(error).toMatchObject({ problem: 'corrupt' });
  });

  it.each([
    ['readStream', (on: EventStore) => on.readStream('member-n1')],
    ['readStreamFromSnapshot', async (on: EventStore) => (await loadEvents(on, 'n1')).events],
  ])('goes on without the key table where it cannot be read, as before: %s', async (_read, read) => {
    const keyless = await createTestStore('load_keys_dropped');
    await keyless.appendToStream('member-n1', [{ type: 'Visited', data: { memberId: 'n1' } }]);
    // A role that reads no personal data may have no privilege on the key table; here it is gone.
    await admin.query(`DROP TABLE "${keyless.schema}#keys".data_keys`);
    expect((await read(keyless)).map((event) => event.data)).toEqual([{ memberId: 'n1' }]);
    expect((await read(keyless)).map((event) => event.data)).toEqual([{ memberId: 'n1' }]);
    expect((await loadAggregate(keyless, member, 'n1')).state).toMatchObject({ visits: 1 });
  });
});
