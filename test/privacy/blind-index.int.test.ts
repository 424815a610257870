import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { blindIndex, createEventStore, PrivacyKeyError, ValidationError, type EventStore } from '../../src/index.js';
import { masterKeyVariable, parseMasterKey } from '../../src/privacy/master-key.js';
import { createTestStore, testDatabaseUrl } from '../setup/database.js';
import { thrown } from '../support/thrown.js';

// A read model that must find rows by a personal value stores a blind index of it: a
// keyed hash that equals for equal values under one master key and purpose, and that
// nobody without the master key can compute (docs/privacy.md, "blind indexes").

const store = await createTestStore('blind_index');
const masterKey = parseMasterKey(process.env[masterKeyVariable], masterKeyVariable);

// Neither needs its tables: a blind index is computed, not stored, by the store.
const sameKeyAsHex = createEventStore({ pglite: 'memory://' }, { schema: 'annals', privacy: { masterKey: masterKey.toString('hex') } });
const otherKey = createEventStore({ connectionString: testDatabaseUrl }, { schema: store.schema, privacy: { masterKey: randomBytes(32) } });
afterAll(() => Promise.all([sameKeyAsHex.close(), otherKey.close()]));

describe('blindIndex', () => {
  it('is 64 hex digits, the same for the same store, purpose and value', () => {
    const index = blindIndex(store, 'email', 'ada@example.com');
    expect(index).toMatch(/^[0-9a-f]{64}$/);
    expect(blindIndex(store, 'email', 'ada@example.com')).toBe(index);
    expect(blindIndex(store, 'email', 'grace@example.com')).not.toBe(index);
    expect(index).not.toContain(Buffer.from('ada@example.com').toString('hex'));
  });

  it('is HMAC-SHA256 under a key derived (HKDF) from the master key for the purpose, so stored indexes stay valid across releases', () => {
    const key = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'annals:blind-index:email', 32));
    expect(blindIndex(store, 'email', 'ada@example.com')).toBe(createHmac('sha256', key).update('ada@example.com', 'utf8').digest('hex'));
  });

  it('is the same for every store given the same master key, in whatever encoding', () => {
    expect(blindIndex(sameKeyAsHex, 'email', 'ada@example.com')).toBe(blindIndex(store, 'email', 'ada@example.com'));
    expect(blindIndex(sameKeyAsHex, 'phone', '+33 1 23 45 67 89')).toBe(blindIndex(store, 'phone', '+33 1 23 45 67 89'));
  });

  it('differs across purposes for the same value', () => {
    const value = 'ada@example.com';
    const indexes = ['email', 'login', 'Email', 'email '].map((purpose) => blindIndex(store, purpose, value));
    expect(new Set(indexes).size).toBe(indexes.length);
  });

  it('differs for a store opened with another master key', () => {
    expect(blindIndex(otherKey, 'email', 'ada@example.com')).not.toBe(blindIndex(store, 'email', 'ada@example.com'));
    expect(blindIndex(otherKey, 'email', 'ada@example.com')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is not normalized: callers trim and lower-case first when lookups should ignore such differences', () => {
    expect(blindIndex(store, 'email', 'Ada@Example.com')).not.toBe(blindIndex(store, 'email', 'ada@example.com'));
    expect(blindIndex(store, 'email', ' Ada@Example.com '.trim().toLowerCase())).toBe(blindIndex(store, 'email', 'ada@example.com'));
  });

  it.each([
    ['an empty purpose', '', 'x', 'purpose'],
    ['a purpose over 100 characters', 'p'.repeat(101), 'x', 'purpose'],
    ['a purpose that is not a string', 7, 'x', 'purpose'],
    ['a value that is not a string', 'email', 42, 'value'],
    ['an undefined value', 'email', undefined, 'value'],
    ['a null value', 'email', null, 'value'],
  ])('refuses %s with a ValidationError naming it', (_name, purpose, value, field) => {
    const error = thrown(() => blindIndex(store, purpose as string, value as string));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ code: 'ANNALS_VALIDATION', field });
  });

  it('accepts a purpose of exactly 100 characters and an empty value', () => {
    expect(blindIndex(store, 'p'.repeat(100), '')).toMatch(/^[0-9a-f]{64}$/);
  });

  it("needs the master key: a store without one says ANNALS_MASTER_KEY is missing (after checking the input)", async () => {
    const saved = process.env[masterKeyVariable];
    delete process.env[masterKeyVariable];
    const keyless = createEventStore({ pglite: 'memory://' }, { schema: 'annals' });
    try {
      expect(thrown(() => blindIndex(keyless, '', 'x'))).toBeInstanceOf(ValidationError);
      const error = thrown(() => blindIndex(keyless, 'email', 'ada@example.com'));
      expect(error).toBeInstanceOf(PrivacyKeyError);
      expect(error).toMatchObject({ problem: 'missing' });
      expect((error as Error).message).toContain(masterKeyVariable);
    } finally {
      process.env[masterKeyVariable] = saved;
      await keyless.close();
    }
  });

  it('refuses what is not an Annals event store', () => {
    expect(() => blindIndex({} as EventStore, 'email', 'x')).toThrow(TypeError);
  });

  it('finds a read model row by the index, with the value itself never stored', async () => {
    const normalize = (email: string) => email.trim().toLowerCase();
    const members = [
      { id: 'm1', email: 'Ada@Example.com' },
      { id: 'm2', email: 'grace@example.com' },
      { id: 'm3', email: 'hedy@example.com' },
    ];
    await store.withTransaction(
      async (tx) => {
        await tx.query(`CREATE TABLE "${tx.schema}".members (member_id text PRIMARY KEY, email_index text NOT NULL UNIQUE)`);
        await tx.db
          .withSchema(tx.schema)
          .insertInto('members')
          .values(members.map((member) => ({ member_id: member.id, email_index: blindIndex(store, 'email', normalize(member.email)) })))
          .execute();
      },
      { appends: false },
    );

    const lookUp = (input: string) =>
      store.read((db) =>
        db.withSchema(store.schema).selectFrom('members').select('member_id').where('email_index', '=', blindIndex(store, 'email', normalize(input))).execute(),
      );
    expect(await lookUp('  ADA@example.COM ')).toEqual([{ member_id: 'm1' }]);
    expect(await lookUp('grace@example.com')).toEqual([{ member_id: 'm2' }]);
    expect(await lookUp('nobody@example.com')).toEqual([]);
    // Another master key computes other indexes: its lookups find nothing.
    const foreign = blindIndex(otherKey, 'email', 'ada@example.com');
    expect(await store.read((db) => db.withSchema(store.schema).selectFrom('members').select('member_id').where('email_index', '=', foreign).execute())).toEqual([]);

    const stored = await store.withTransaction(
      (tx) => tx.query<{ text: string }>(`SELECT string_agg(m::text, ' ') AS text FROM "${tx.schema}".members m`),
      { appends: false },
    );
    for (const member of members) expect(stored[0]!.text.toLowerCase()).not.toContain(member.email.toLowerCase());
  });
});
