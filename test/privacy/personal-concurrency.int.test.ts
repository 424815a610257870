import { describe, expect, it } from 'vitest';
import { forget, type EventStore, type NewEvent } from '../../src/index.js';
import { createTestStore } from '../setup/database.js';

// Keys are made on first use by whichever append gets there, and forget deletes them
// while other appends run: neither may fail an append, lose an event or make one unreadable.

const store = await createTestStore('personal_concurrency');

const profile = (subject: string, email: string): NewEvent => ({
  type: 'ProfileChanged',
  data: { subject, email },
  personal: [{ subject, fields: ['email'] }],
});

const keyCount = (s: EventStore, subject: string) =>
  s.withTransaction(async (tx) => (await tx.query(`SELECT 1 FROM "${tx.schema}#keys".data_keys WHERE subject = $1`, [subject])).length, { appends: false });

describe('personal data under concurrency', () => {
  it('appends racing to make a new subject\'s key share one key, and every event opens', async () => {
    await Promise.all(
      Array.from({ length: 12 }, (_, i) => store.appendToStream(`profile-race-${i}`, [profile('racer', `racer${i}@example.com`)])),
    );
    await Promise.all(
      Array.from({ length: 4 }, (_, i) => store.withTransaction((tx) => tx.appendToStream(`profile-race-tx-${i}`, [profile('racer', `tx${i}@example.com`)]))),
    );
    expect(await keyCount(store, 'racer')).toBe(1);
    const events = (await store.readAll()).filter((event) => (event.data as { subject: string }).subject === 'racer');
    expect(events).toHaveLength(16);
    expect(events.every((event) => (event.data as { email: string }).email.endsWith('@example.com'))).toBe(true);
    expect(events.some((event) => event.erased)).toBe(false);
  });

  it('forget racing appends of the same subject: no append fails, each event reads opened or erased', async () => {
    let stop = false;
    const appended: bigint[] = [];
    const writers = Array.from({ length: 3 }, async (_, w) => {
      for (let i = 0; !stop || i < 5; i++) {
        const result = await store.appendToStream(`profile-forgetful-${w}`, [profile('forgetful', `f${w}-${i}@example.com`)]);
        appended.push(result.lastGlobalPosition);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const forgotten = await forget(store, 'forgetful');
    stop = true;
    await Promise.all(writers);
    expect(forgotten.keysDeleted).toBe(1);
    const events = (await store.readAll({ types: ['ProfileChanged'] })).filter((event) => (event.data as { subject: string }).subject === 'forgetful');
    expect(events).toHaveLength(appended.length);
    for (const event of events) {
      const { email } = event.data as { email: string | null };
      if (event.erased) expect(email).toBeNull();
      else expect(email).toMatch(/@example\.com$/);
    }
    // Erased ones exist (those before the forget); those written after got a new key.
    expect(events.some((event) => event.erased)).toBe(true);
    expect(events.at(-1)!.erased).toBeUndefined();
    expect(await keyCount(store, 'forgetful')).toBe(1);
  });
});
