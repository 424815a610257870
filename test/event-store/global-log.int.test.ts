import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConcurrencyError, TransactionTooLargeError, type EventStore, type RecordedEvent } from '../../src/index.js';
import { createTestStore, eventually, testDatabaseUrl } from '../setup/database.js';

let admin: pg.Client;
// At the top level: the helper registers the file's clean-up hooks.
const store: EventStore = await createTestStore('global_log', {});
beforeAll(async () => {
  admin = new pg.Client({ connectionString: testDatabaseUrl });
  await admin.connect();
});
afterAll(() => admin.end());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the global log never skips an event', () => {
  it('a tailing reader sees every committed event once, in increasing position, while 16 writers commit out of order', async () => {
    const category = `gap${randomUUID().slice(0, 8)}`;
    const committed = new Set<string>();
    const rolledBack = new Set<string>();
    let writing = true;

    // Each transaction draws its positions at its first append, then stays open for a
    // random time, so transactions holding lower positions often commit after ones
    // holding higher positions: the case a naive reader skips.
    const writer = async (w: number) => {
      for (let t = 0; t < 12; t++) {
        const ids: string[] = [];
        const rollBack = Math.random() < 0.15;
        try {
          await store.withTransaction(async (tx) => {
            // Streams in ascending order: transactions that lock the same rows in
            // different orders deadlock, in Postgres as anywhere.
            const streams = [...new Set(Array.from({ length: 1 + Math.floor(Math.random() * 3) }, () => Math.floor(Math.random() * 24)))].sort((a, b) => a - b);
            for (const stream of streams) {
              const batch = Array.from({ length: 1 + Math.floor(Math.random() * 3) }, () => ({
                id: randomUUID(),
                type: 'LikeCreated',
                data: { writer: w, transaction: t },
              }));
              ids.push(...batch.map((e) => e.id));
              await tx.appendToStream(`${category}-${stream}`, batch);
              await sleep(Math.random() * 40);
            }
            if (rollBack) throw new Error('rolled back on purpose');
          });
          for (const id of ids) committed.add(id);
        } catch (error) {
          // A newer transaction appended to one of its streams after this one got its
          // id: refused so that each stream stays in order in the log; retried whole.
          if (error instanceof ConcurrencyError) {
            t--;
            continue;
          }
          if ((error as Error).message !== 'rolled back on purpose') throw error;
          for (const id of ids) rolledBack.add(id);
        }
      }
    };

    const seen: RecordedEvent[] = [];
    const reader = async () => {
      let after = 0n;
      let caughtUp = false;
      const deadline = Date.now() + 30_000;
      while (!caughtUp && Date.now() < deadline) {
        const page = await store.readAll({ after, limit: 7, categories: [category] });
        seen.push(...page);
        if (page.length > 0) after = page.at(-1)!.globalPosition;
        else await sleep(2);
        caughtUp = !writing && page.length === 0 && seen.length >= committed.size;
      }
    };

    const reading = reader();
    await Promise.all(Array.from({ length: 16 }, (_, w) => writer(w)));
    writing = false;
    await reading;

    const positions = seen.map((e) => e.globalPosition);
    for (let i = 1; i < positions.length; i++) expect(positions[i]!).toBeGreaterThan(positions[i - 1]!);
    const seenIds = seen.map((e) => e.id);
    expect(new Set(seenIds).size).toBe(seenIds.length); // exactly once
    expect(seenIds.filter((id) => rolledBack.has(id))).toEqual([]);
    expect(new Set(seenIds)).toEqual(committed); // nothing missed
    expect(committed.size).toBeGreaterThan(200);
    expect(rolledBack.size).toBeGreaterThan(0);
  });

  it('holds back a later commit while an earlier position is still open, which a naive reader would skip', async () => {
    const category = `hold${randomUUID().slice(0, 8)}`;
    let commitSlow!: () => void;
    const slowMayCommit = new Promise<void>((resolve) => (commitSlow = resolve));
    let slowAppended!: () => void;
    const slowHasAppended = new Promise<void>((resolve) => (slowAppended = resolve));

    const slow = store.withTransaction(async (tx) => {
      await tx.appendToStream(`${category}-slow`, [{ type: 'Slow', data: {} }]);
      slowAppended();
      await slowMayCommit;
    });
    await slowHasAppended;
    const fast = await store.appendToStream(`${category}-fast`, [{ type: 'Fast', data: {} }]);

    // The fast event is committed and visible to a plain query...
    const naive = await admin.query(
      `SELECT global_position FROM "${store.schema}".events WHERE category = $1 ORDER BY global_position`,
      [category],
    );
    expect(naive.rows.map((r) => BigInt(r.global_position))).toEqual([fast.lastGlobalPosition]);
    // ...but the slow transaction holds a lower position: a reader that took the fast
    // event now and resumed after it would never see the slow one. readAll waits.
    expect(await store.readAll({ categories: [category] })).toEqual([]);

    commitSlow();
    await slow;
    const events = await eventually(async () => {
      const all = await store.readAll({ categories: [category] });
      expect(all).toHaveLength(2);
      return all;
    });
    expect(events.map((e) => e.type)).toEqual(['Slow', 'Fast']);
    expect(events[0]!.globalPosition).toBeLessThan(events[1]!.globalPosition);
  });

  it('numbers several appends of one transaction in order, after each other', async () => {
    const category = `multi${randomUUID().slice(0, 8)}`;
    const results = await store.withTransaction(async (tx) => [
      await tx.appendToStream(`${category}-a`, [{ type: 'A', data: {} }, { type: 'A', data: {} }]),
      await tx.appendToStream(`${category}-b`, [{ type: 'B', data: {} }]),
      await tx.appendToStream(`${category}-a`, [{ type: 'A', data: {} }]),
    ]);
    expect(results[1]!.lastGlobalPosition).toBe(results[0]!.lastGlobalPosition + 1n);
    expect(results[2]!.lastGlobalPosition).toBe(results[1]!.lastGlobalPosition + 1n);
    const events = await eventually(async () => {
      const all = await store.readAll({ categories: [category] });
      expect(all).toHaveLength(4);
      return all;
    });
    expect(events.map((e) => `${e.type}${e.version}`)).toEqual(['A1', 'A2', 'B1', 'A3']);
  });

  it('refuses a transaction that would append more events than a position can number', async () => {
    const id = `big-${randomUUID()}`;
    // Stand-in for a transaction that already appended 2^20 - 1 events (appending them
    // for real would take a minute): the last number of its range is taken.
    await expect(
      store.withTransaction(async (tx) => {
        await tx.query(
          `INSERT INTO "${store.schema}".events (global_position, stream_id, stream_version, event_id, category, type, data)
           VALUES ((pg_current_xact_id()::text::bigint << 20) + 1048575, 'filler-1', 1, gen_random_uuid(), 'filler', 'Filler', '{}')`,
        );
        await tx.appendToStream(id, [{ type: 'One', data: {} }]);
      }),
    ).rejects.toBeInstanceOf(TransactionTooLargeError);
    expect(await store.getStreamInfo(id)).toBeNull();
  });
});
