import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTestStore, eventually } from '../setup/database.js';

// Postgres only: an appender's transaction held open while another commits needs two
// connections, and PGlite has one (the contract covers both backends for the rest).
const store = await createTestStore('committed_reads');
const opened = (n: number) => ({ type: 'Opened', data: { n } });

describe('reads the log bound applies to, and lookups it does not', () => {
  it('an event committed behind an open appender: readAll and countEvents hold it back, readAllCommitted and readEventsAt return it', async () => {
    const category = `behind${randomUUID().slice(0, 8)}`;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let appended!: () => void;
    const hasAppended = new Promise<void>((resolve) => (appended = resolve));
    const slow = store.withTransaction(async (tx) => {
      await tx.appendToStream(`${category}-slow`, [opened(1)]);
      appended();
      await released;
    });
    try {
      await hasAppended;
      const fast = await store.appendToStream(`${category}-fast`, [opened(2)]);

      // Bounded: the slow transaction may still commit below the fast event.
      expect(await store.readAll({ categories: [category] })).toEqual([]);
      expect(await store.countEvents({ categories: [category] })).toEqual({ count: 0, oldestRecordedAt: null });
      expect(await store.countEvents({ categories: [category], until: fast.lastGlobalPosition })).toEqual({ count: 0, oldestRecordedAt: null });
      expect(await store.headPosition()).toBeLessThan(fast.lastGlobalPosition);

      // Not bounded: everything committed so far.
      const committed = await store.readAllCommitted({ categories: [category] });
      expect(committed.map((event) => [event.streamId, event.globalPosition])).toEqual([[`${category}-fast`, fast.lastGlobalPosition]]);
      expect(await store.readEventsAt([fast.lastGlobalPosition])).toEqual(committed);
      expect(await store.lastCommittedPosition()).toBeGreaterThanOrEqual(fast.lastGlobalPosition);
    } finally {
      release();
      await slow;
    }

    // Once it commits, the bound moves past both, the slow event first.
    await eventually(async () => {
      const all = await store.readAll({ categories: [category] });
      expect(all.map((event) => event.streamId)).toEqual([`${category}-slow`, `${category}-fast`]);
      expect(await store.countEvents({ categories: [category] })).toEqual({ count: 2, oldestRecordedAt: all[0]!.recordedAt });
      expect(await store.readAllCommitted({ categories: [category] })).toEqual(all);
    });
  });
});
