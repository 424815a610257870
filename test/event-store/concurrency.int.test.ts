import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConcurrencyError, createEventStore, type EventStore } from '../../src/index.js';
import { createTestStore, testDatabaseUrl } from '../setup/database.js';

let other: EventStore; // a second pool: a second application instance on the same schema
let admin: pg.Client;

// At the top level: the helper registers the file's clean-up hooks.
const store: EventStore = await createTestStore('concurrency');
beforeAll(async () => {
  other = createEventStore({ connectionString: testDatabaseUrl, maxConnections: 20 }, { schema: store.schema });
  admin = new pg.Client({ connectionString: testDatabaseUrl });
  await admin.connect();
});
afterAll(async () => {
  await other.close();
  await admin.end();
});

const like = (userId: string) => ({ type: 'LikeCreated', data: { userId } });

/** Resolves once a backend running an append on `schema` waits for a row lock. */
async function untilAnAppendWaitsForALock(schema: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const { rows } = await admin.query(
      // The schema, not the streams table: pg_stat_activity keeps the first 1,024 bytes of
      // a statement (track_activity_query_size), and the append's text is longer.
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`,
      [`%"${schema}".%`],
    );
    if (rows[0].n > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the second append never waited for the stream lock');
}

describe('optimistic concurrency', () => {
  it('two writers with the same expected version: exactly one wins (racing)', async () => {
    for (let round = 0; round < 20; round++) {
      const id = `account-${randomUUID()}`;
      await store.appendToStream(id, [like('seed')]);
      const results = await Promise.allSettled([
        store.appendToStream(id, [like('first')], { expectedVersion: 1 }),
        other.appendToStream(id, [like('second')], { expectedVersion: 1 }),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(ConcurrencyError);
      expect((lost[0] as PromiseRejectedResult).reason).toMatchObject({ streamId: id, expected: 1, actual: 2 });
      expect((await store.readStream(id)).map((e) => e.version)).toEqual([1, 2]);
    }
  });

  it('the loser that waited on the winner’s lock re-checks after the winner commits', async () => {
    const id = `account-${randomUUID()}`;
    await store.appendToStream(id, [like('seed')]);
    let commit!: () => void;
    const committed = new Promise<void>((resolve) => (commit = resolve));
    const winner = store.withTransaction(async (tx) => {
      await tx.appendToStream(id, [like('winner')], { expectedVersion: 1 });
      await committed; // hold the stream's row lock until the loser is queued behind it
    });
    // Give the winner time to take the row lock before the loser starts.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const loser = other.appendToStream(id, [like('loser')], { expectedVersion: 1 });
    await untilAnAppendWaitsForALock(store.schema);
    commit();
    await winner;
    await expect(loser).rejects.toMatchObject({ code: 'ANNALS_CONCURRENCY', expected: 1, actual: 2 });
    expect((await store.readStream(id)).map((e) => e.data)).toEqual([{ userId: 'seed' }, { userId: 'winner' }]);
  });

  it('16 writers retrying on conflict append every event exactly once, versions without holes', async () => {
    const id = `account-${randomUUID()}`;
    const perWriter = 8;
    let conflicts = 0;
    const writer = async (w: number) => {
      const target = w % 2 === 0 ? store : other;
      for (let i = 0; i < perWriter; i++) {
        for (;;) {
          const version = (await target.getStreamInfo(id))?.version ?? 0;
          try {
            await target.appendToStream(id, [like(`w${w}-${i}`)], { expectedVersion: version });
            break;
          } catch (error) {
            if (!(error instanceof ConcurrencyError)) throw error;
            conflicts++;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, w) => writer(w)));
    const events = await store.readStream(id);
    expect(events.map((e) => e.version)).toEqual(Array.from({ length: 16 * perWriter }, (_, i) => i + 1));
    expect(new Set(events.map((e) => (e.data as { userId: string }).userId)).size).toBe(16 * perWriter);
    expect(conflicts).toBeGreaterThan(0); // the race really happened
  });

  it("concurrent 'any' appends to one stream queue up: no lost or duplicated version", async () => {
    const id = `post-${randomUUID()}`;
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? store : other).appendToStream(id, [like(`u${i}`), like(`v${i}`)])),
    );
    expect(results.map((r) => r.nextExpectedVersion).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 40 }, (_, i) => 2 * (i + 1)),
    );
    expect((await store.readStream(id)).map((e) => e.version)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
  });
});

describe('idempotent appends under concurrency', () => {
  it.each(['any', 'no_stream'] as const)(
    'the same request sent 8 times at once (expectedVersion %s) appends once and answers alike',
    async (expectedVersion) => {
      const id = `post-${randomUUID()}`;
      const events = [
        { ...like('ada'), id: randomUUID() },
        { ...like('bob'), id: randomUUID() },
      ];
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 ? store : other).appendToStream(id, events, { expectedVersion })),
      );
      // One of them wrote the events; the others found them (written: false), same answer otherwise.
      expect(results.filter((r) => r.written)).toHaveLength(1);
      const answers = results.map(({ written: _written, ...r }) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
      expect(new Set(answers).size).toBe(1);
      expect(results[0]!.nextExpectedVersion).toBe(2);
      expect((await store.readStream(id)).map((e) => e.id)).toEqual(events.map((e) => e.id));
    },
  );
});
