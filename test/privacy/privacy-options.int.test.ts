import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createEventStore,
  forget,
  PrivacyKeyError,
  ValidationError,
  type DataKey,
  type KeyStore,
  type NewEvent,
} from '../../src/index.js';
import { masterKeyVariable } from '../../src/privacy/master-key.js';
import { defaultKeySchema } from '../../src/event-store/postgres/create-event-store.js';
import { createTestStore, testDatabaseUrl, useTestSchema } from '../setup/database.js';

// createEventStore's `privacy` option (docs/privacy.md): the master key is read when a
// personal field is first sealed or opened, never before; the key table's schema is
// configurable and checked at creation; a key store of one's own replaces the table.

const admin = new pg.Pool({ connectionString: testDatabaseUrl, max: 2 });
const keySchema = `test_privacy_keys_${randomBytes(4).toString('hex')}`;
afterAll(async () => {
  await admin.query(`DROP SCHEMA IF EXISTS "${keySchema}" CASCADE`);
  await admin.end();
});

const joined = (subject: string, email: string): NewEvent => ({
  type: 'MemberJoined',
  data: { memberId: subject, email, plan: 'basic' },
  personal: [{ subject, fields: ['email'] }],
});

const schemaExists = async (name: string) => (await admin.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [name])).rowCount === 1;
const keyRows = async (schema: string, subject: string) =>
  (await admin.query(`SELECT 1 FROM "${schema}".data_keys WHERE subject = $1`, [subject])).rowCount;
const rawData = async (schema: string, streamId: string) =>
  (await admin.query<{ data: string }>(`SELECT data::text AS data FROM "${schema}".events WHERE stream_id = $1`, [streamId])).rows.map((row) => row.data);

const thrown = async (work: () => unknown): Promise<unknown> => {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
};

/** Removes ANNALS_MASTER_KEY for the work, and puts it back whatever happens. */
async function withoutMasterKey<T>(work: () => Promise<T>): Promise<T> {
  const saved = process.env[masterKeyVariable];
  delete process.env[masterKeyVariable];
  try {
    return await work();
  } finally {
    process.env[masterKeyVariable] = saved;
  }
}

/** Keys in a Map: what a KMS- or vault-backed key store looks like to the event store. */
class MemoryKeyStore implements KeyStore {
  readonly bySubject = new Map<string, DataKey>();

  async keysFor(subjects: readonly string[]): Promise<Map<string, DataKey>> {
    const keys = new Map<string, DataKey>();
    for (const subject of subjects) {
      let key = this.bySubject.get(subject);
      if (!key) {
        key = { keyId: randomUUID(), subject, key: randomBytes(32) };
        this.bySubject.set(subject, key);
      }
      keys.set(subject, key);
    }
    return keys;
  }

  async keysById(keyIds: readonly string[]): Promise<Map<string, DataKey>> {
    const wanted = new Set(keyIds);
    return new Map([...this.bySubject.values()].filter((key) => wanted.has(key.keyId)).map((key) => [key.keyId, key]));
  }

  async forget(subject: string): Promise<number> {
    return this.bySubject.delete(subject) ? 1 : 0;
  }

  async hasKey(subject: string): Promise<boolean> {
    return this.bySubject.has(subject);
  }
}

const malformedSchema = useTestSchema('privacy_malformed').schema;
const keylessSchema = useTestSchema('privacy_keyless').schema;
// `test_` + 44 + `_` + 8 hex digits: 58 bytes, so `<schema>#keys` is exactly the 63 Postgres keeps.
const longSchema = useTestSchema('privacy_long_schema_'.padEnd(44, 'x')).schema;
const withKeySchema = await createTestStore('privacy_key_schema', { privacy: { keySchema } });
const memoryKeys = new MemoryKeyStore();
const withKeyStore = await createTestStore('privacy_key_store', { privacy: { keyStore: memoryKeys } });

describe('privacy.masterKey', () => {
  it('a malformed key fails the first sealed append, not the creation, and nothing is written', async () => {
    const store = createEventStore({ connectionString: testDatabaseUrl }, { schema: malformedSchema, privacy: { masterKey: 'abcdefghij' } });
    try {
      await store.migrate();
      // Events without personal fields need no key.
      await store.appendToStream('plain-1', [{ type: 'Noted', data: { text: 'hello' } }]);
      expect((await store.readStream('plain-1')).map((event) => event.data)).toEqual([{ text: 'hello' }]);

      const error = await thrown(() => store.appendToStream('member-m1', [joined('m1', 'ada@example.com')]));
      expect(error).toBeInstanceOf(PrivacyKeyError);
      expect(error).toMatchObject({ code: 'ANNALS_PRIVACY_KEY', problem: 'malformed' });
      expect((error as Error).message).toContain('options.privacy.masterKey');
      expect((error as Error).message).not.toContain('abcdefghij');

      expect(await store.getStreamInfo('member-m1')).toBeNull();
      expect(await store.readStream('member-m1')).toEqual([]);
      expect(await keyRows(`${malformedSchema}#keys`, 'm1')).toBe(0);
      expect((await admin.query(`SELECT 1 FROM "${malformedSchema}".personal_streams`)).rowCount).toBe(0);

      // Inside a transaction the failure rolls back what the transaction wrote before it.
      const inTransaction = await thrown(() =>
        store.withTransaction(async (tx) => {
          await tx.appendToStream('plain-2', [{ type: 'Noted', data: { text: 'rolled back' } }]);
          await tx.appendToStream('member-m2', [joined('m2', 'grace@example.com')]);
        }),
      );
      expect(inTransaction).toMatchObject({ problem: 'malformed' });
      expect(await store.getStreamInfo('plain-2')).toBeNull();
      expect(await store.getStreamInfo('member-m2')).toBeNull();
      expect((await store.readAll()).map((event) => event.streamId)).toEqual(['plain-1']);
    } finally {
      await store.close();
    }
  });

  it("a Buffer of the wrong length is 'malformed' too, and says its length", async () => {
    const store = createEventStore({ connectionString: testDatabaseUrl }, { schema: malformedSchema, privacy: { masterKey: Buffer.alloc(10, 1) } });
    try {
      await store.migrate();
      const error = await thrown(() => store.appendToStream('member-b1', [joined('b1', 'ada@example.com')]));
      expect(error).toMatchObject({ problem: 'malformed' });
      expect((error as Error).message).toContain('not 10');
      expect(await store.getStreamInfo('member-b1')).toBeNull();
    } finally {
      await store.close();
    }
  });

  it('is refused at creation when it is neither a string nor a Buffer', () => {
    const create = () => createEventStore({ pglite: 'memory://' }, { privacy: { masterKey: 42 as unknown as string } });
    expect(create).toThrow(ValidationError);
    expect(create).toThrow(expect.objectContaining({ field: 'options.privacy.masterKey' }));
  });

  it('is not needed by a store whose events have no personal fields; a sealed append then says ANNALS_MASTER_KEY is missing', async () => {
    await withoutMasterKey(async () => {
      expect(process.env[masterKeyVariable]).toBeUndefined();
      const store = createEventStore({ connectionString: testDatabaseUrl }, { schema: keylessSchema });
      try {
        await store.migrate();
        await store.appendToStream('order-1', [
          { type: 'OrderPlaced', data: { orderId: '1', total: 12 } },
          { type: 'OrderShipped', data: { orderId: '1' } },
        ]);
        await store.withTransaction((tx) => tx.appendToStream('order-2', [{ type: 'OrderPlaced', data: { orderId: '2', total: 5 } }]));
        expect((await store.readStream('order-1')).map((event) => event.type)).toEqual(['OrderPlaced', 'OrderShipped']);
        const all = await store.readAll();
        expect(all.map((event) => [event.streamId, event.data])).toEqual([
          ['order-1', { orderId: '1', total: 12 }],
          ['order-1', { orderId: '1' }],
          ['order-2', { orderId: '2', total: 5 }],
        ]);
        const iterated = [];
        for await (const event of store.iterateAll()) iterated.push(event.id);
        expect(iterated).toEqual(all.map((event) => event.id));
        expect(await store.readEventsById([all[0]!.id])).toHaveLength(1);

        const error = await thrown(() => store.appendToStream('member-m1', [joined('m1', 'ada@example.com')]));
        expect(error).toBeInstanceOf(PrivacyKeyError);
        expect(error).toMatchObject({ problem: 'missing' });
        expect((error as Error).message).toContain(masterKeyVariable);
        expect(await store.getStreamInfo('member-m1')).toBeNull();
        expect(await store.readAll()).toHaveLength(3);
      } finally {
        await store.close();
      }
    });
    expect(process.env[masterKeyVariable]).toBeDefined();
  });
});

describe('privacy.keySchema', () => {
  it('puts the key table in the schema given, and none in <schema>#keys', async () => {
    expect(await schemaExists(keySchema)).toBe(true);
    expect(await schemaExists(`${withKeySchema.schema}#keys`)).toBe(false);

    await withKeySchema.appendToStream('member-k1', [joined('k1', 'ada@example.com')]);
    expect(await keyRows(keySchema, 'k1')).toBe(1);
    expect(await schemaExists(`${withKeySchema.schema}#keys`)).toBe(false);
    expect((await rawData(withKeySchema.schema, 'member-k1')).join('\n')).not.toContain('ada@example.com');
    const [event] = await withKeySchema.readStream('member-k1');
    expect(event!.data).toEqual({ memberId: 'k1', email: 'ada@example.com', plan: 'basic' });

    // Another store on the same tables with another master key cannot read them, and says why.
    const other = createEventStore({ connectionString: testDatabaseUrl }, { schema: withKeySchema.schema, privacy: { keySchema, masterKey: randomBytes(32) } });
    try {
      expect(await thrown(() => other.readStream('member-k1'))).toMatchObject({ problem: 'mismatch' });
    } finally {
      await other.close();
    }

    expect((await forget(withKeySchema, 'k1')).keysDeleted).toBe(1);
    expect(await keyRows(keySchema, 'k1')).toBe(0);
    const [erased] = await withKeySchema.readStream('member-k1');
    expect(erased!.data).toEqual({ memberId: 'k1', email: null, plan: 'basic' });
  });

  it('takes a default <schema>#keys of exactly 63 bytes, and Postgres keeps the whole name', async () => {
    expect(Buffer.byteLength(`${longSchema}#keys`)).toBe(63);
    const store = createEventStore({ connectionString: testDatabaseUrl }, { schema: longSchema });
    try {
      await store.migrate();
      await store.appendToStream('member-l1', [joined('l1', 'ada@example.com')]);
      expect(await schemaExists(`${longSchema}#keys`)).toBe(true);
      expect(await keyRows(`${longSchema}#keys`, 'l1')).toBe(1);
      expect((await store.readStream('member-l1'))[0]!.data).toMatchObject({ email: 'ada@example.com' });
    } finally {
      await store.close();
    }
  });

  const refused = (options: Parameters<typeof createEventStore>[1]) => {
    try {
      createEventStore({ connectionString: testDatabaseUrl }, options).close().catch(() => {});
    } catch (error) {
      return error;
    }
    return undefined;
  };

  it.each([
    ['a keySchema of 64 bytes', { schema: 'short', privacy: { keySchema: 'k'.repeat(64) } }],
    ['a keySchema of 32 two-byte characters', { schema: 'short', privacy: { keySchema: 'é'.repeat(32) } }],
    ["a keySchema with '#'", { schema: 'short', privacy: { keySchema: 'short#keys' } }],
    ['an empty keySchema', { schema: 'short', privacy: { keySchema: '' } }],
  ])('refuses %s at creation, naming options.privacy.keySchema', (_name, options) => {
    const error = refused(options);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ field: 'options.privacy.keySchema' });
  });

  it('derives a key schema within 63 bytes, one per store, for store names too long for <schema>#keys', () => {
    for (const schema of ['s'.repeat(59), 's'.repeat(63), 'é'.repeat(30), 'é'.repeat(31) + 'a']) {
      const derived = defaultKeySchema(schema);
      expect(Buffer.byteLength(derived)).toBeLessThanOrEqual(63);
      expect(derived).toMatch(/#keys-[0-9a-f]{8}$/);
      expect(refused({ schema })).toBeUndefined();
    }
    expect(defaultKeySchema('s'.repeat(62) + 'a')).not.toBe(defaultKeySchema('s'.repeat(62) + 'b'));
    expect(defaultKeySchema('short')).toBe('short#keys');
  });

  it.each([
    ['a 58-byte schema with no keySchema', { schema: 's'.repeat(58) }],
    ['a 58-byte schema of two-byte characters with no keySchema', { schema: 'é'.repeat(29) }],
    ['a 63-byte schema with a short keySchema', { schema: 's'.repeat(63), privacy: { keySchema: 'keys' } }],
    ['a 63-byte schema with a keySchema of 63 bytes', { schema: 's'.repeat(63), privacy: { keySchema: 'k'.repeat(63) } }],
    ['a 63-byte schema with a key store of its own', { schema: 's'.repeat(63), privacy: { keyStore: new MemoryKeyStore() } }],
  ])('accepts %s', (_name, options) => {
    expect(refused(options)).toBeUndefined();
  });
});

describe('privacy.keyStore', () => {
  it('is refused at creation when it does not implement KeyStore', () => {
    const create = () => createEventStore({ pglite: 'memory://' }, { privacy: { keyStore: {} as KeyStore } });
    expect(create).toThrow(ValidationError);
    expect(create).toThrow(expect.objectContaining({ field: 'options.privacy.keyStore' }));
  });

  it('is refused together with keySchema, which places the table it replaces', () => {
    const create = () => createEventStore({ pglite: 'memory://' }, { privacy: { keyStore: new MemoryKeyStore(), keySchema: 'keys' } });
    expect(create).toThrow(expect.objectContaining({ field: 'options.privacy.keySchema' }));
  });

  it('replaces the key table: seals with its keys, opens with them, and forget erases through it', async () => {
    expect(await schemaExists(`${withKeyStore.schema}#keys`)).toBe(false);

    await withKeyStore.appendToStream('member-c1', [joined('c1', 'ada@example.com')]);
    await withKeyStore.appendToStream('member-c2', [joined('c2', 'grace@example.com')]);
    expect([...memoryKeys.bySubject.keys()].sort()).toEqual(['c1', 'c2']);
    expect(await schemaExists(`${withKeyStore.schema}#keys`)).toBe(false);

    const [raw] = await rawData(withKeyStore.schema, 'member-c1');
    expect(raw).not.toContain('ada@example.com');
    const sealed = JSON.parse(raw!) as { $personal: { s: string; k: string; f: string[] }[] };
    expect(sealed.$personal).toEqual([expect.objectContaining({ s: 'c1', k: memoryKeys.bySubject.get('c1')!.keyId, f: ['email'] })]);
    expect((await withKeyStore.readStream('member-c1'))[0]!.data).toEqual({ memberId: 'c1', email: 'ada@example.com', plan: 'basic' });
    // An aggregate's load asks it too (the store's own key table is read within the load's statement).
    const loaded = await withKeyStore.readStreamFromSnapshot('member-c1', { snapshotVersion: 1 });
    expect(loaded.events[0]!.data).toEqual({ memberId: 'c1', email: 'ada@example.com', plan: 'basic' });

    const result = await forget(withKeyStore, 'c1');
    expect(result).toMatchObject({ subject: 'c1', keysDeleted: 1, report: { forgotten: true } });
    expect(memoryKeys.bySubject.has('c1')).toBe(false);

    const [erased] = await withKeyStore.readStream('member-c1');
    expect(erased!.data).toEqual({ memberId: 'c1', email: null, plan: 'basic' });
    expect(erased!.erased).toEqual(['email']);
    expect((await withKeyStore.readStreamFromSnapshot('member-c1', { snapshotVersion: 1 })).events[0]).toEqual(erased);
    // Another subject's fields are untouched.
    const [kept] = await withKeyStore.readStream('member-c2');
    expect(kept!.data).toEqual({ memberId: 'c2', email: 'grace@example.com', plan: 'basic' });
    expect(kept!.erased).toBeUndefined();
    expect((await forget(withKeyStore, 'c1')).keysDeleted).toBe(0);
  });

  it('needs no master key of the store: the key store owns the keys', async () => {
    await withoutMasterKey(async () => {
      await withKeyStore.appendToStream('member-c3', [joined('c3', 'hedy@example.com')]);
      expect((await withKeyStore.readStream('member-c3'))[0]!.data).toMatchObject({ email: 'hedy@example.com' });
    });
  });
});
