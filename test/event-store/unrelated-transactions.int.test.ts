import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readSchemaOf, runProjections, ValidationError, type EventStore } from '../../src/index.js';
import { createTestStore, eventually, testDatabaseUrl } from '../setup/database.js';
import { appenderKey } from '../../src/event-store/postgres/log-bound.js';
import { likeCountsProjection } from '../projections/support/like-counts.js';

const store: EventStore = await createTestStore('unrelated_tx');

/** Sessions opened by a test, rolled back and closed after it whatever happens. */
const sessions: pg.Client[] = [];
async function session(connectionString: string, applicationName: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString, application_name: applicationName });
  client.on('error', () => {});
  await client.connect();
  sessions.push(client);
  return client;
}
afterEach(async () => {
  for (const client of sessions.splice(0)) await client.end().catch(() => {});
});

/** The same server, another database (`postgres` is always there). */
const otherDatabaseUrl = (() => {
  const url = new URL(testDatabaseUrl);
  url.pathname = '/postgres';
  return url.toString();
})();

const like = (postId: string) => ({ type: 'LikeCreated', data: { postId, userId: randomUUID() }, schemaVersion: 2 });

/** Appends, then measures how long until readAll returns the event. */
async function msUntilRead(category: string): Promise<number> {
  const appended = await store.appendToStream(`${category}-1`, [like(category)]);
  const started = Date.now();
  await eventually(async () => {
    const seen = await store.readAll({ categories: [category] });
    expect(seen.map((event) => event.globalPosition)).toContain(appended.lastGlobalPosition);
  }, 5_000);
  return Date.now() - started;
}

describe('transactions that never append to this store do not hold back its log', () => {
  it('a transaction holding an id in another database', async () => {
    const other = await session(otherDatabaseUrl, 'unrelated-other-db');
    await other.query('BEGIN');
    await other.query('SELECT pg_current_xact_id()');
    expect(await msUntilRead(`odb${randomUUID().slice(0, 8)}`)).toBeLessThan(1_000);
    expect(await store.logHoldback()).toBeNull();
    await other.query('ROLLBACK');
  });

  it('an idle-in-transaction session in the same database that wrote elsewhere', async () => {
    const idle = await session(testDatabaseUrl, 'unrelated-idle');
    await idle.query('BEGIN');
    await idle.query('CREATE TEMP TABLE scratch (n int) ON COMMIT DROP');
    await idle.query('INSERT INTO scratch VALUES (1)');
    const { rows } = await idle.query<{ xid: string | null }>('SELECT pg_current_xact_id_if_assigned()::text AS xid');
    expect(rows[0]!.xid).not.toBeNull(); // it holds an id, so the old bound (xmin) would stall
    expect(await msUntilRead(`idle${randomUUID().slice(0, 8)}`)).toBeLessThan(1_000);
    expect(await store.logHoldback()).toBeNull();
    await idle.query('ROLLBACK');
  });

  it('a running projection sees new events within a second while both are open', async () => {
    const other = await session(otherDatabaseUrl, 'unrelated-other-db');
    await other.query('BEGIN');
    await other.query('SELECT pg_current_xact_id()');
    const idle = await session(testDatabaseUrl, 'unrelated-idle');
    await idle.query('BEGIN');
    await idle.query('CREATE TEMP TABLE scratch (n int) ON COMMIT DROP');

    const projection = likeCountsProjection({ name: `unrelated_${randomUUID().slice(0, 6)}` });
    const runner = runProjections(store, [projection], { pollIntervalMs: 100 });
    try {
      await runner.ready;
      const post = `p${randomUUID().slice(0, 8)}`;
      await store.appendToStream(`post-${post}`, [like(post), like(post)]);
      const started = Date.now();
      await eventually(async () => {
        const { rows } = await idle.query<{ likes: number }>(
          `SELECT likes FROM "${readSchemaOf(store.schema, projection)}".like_counts WHERE post_id = $1`,
          [post],
        );
        expect(rows[0]?.likes).toBe(2);
      }, 10_000);
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      await runner.stop();
      await other.query('ROLLBACK');
      await idle.query('ROLLBACK');
    }
  });
});

describe("a reader's bound never moves back", () => {
  /** The bound a reader with snapshot `snapshot` would use now. */
  async function boundFor(client: pg.Client, snapshot: string): Promise<bigint> {
    const s = `"${store.schema}"`;
    const { rows } = await client.query<{ bound: string }>(
      `SELECT ${s}.annals_log_bound($1::pg_snapshot, $2, 0, NULL, '${s}.events'::regclass)::text AS bound`,
      [snapshot, appenderKey(store.schema)],
    );
    return BigInt(rows[0]!.bound);
  }

  it('a transaction that commits after the snapshot lowers it only if it appended to this store', async () => {
    const reader = await session(testDatabaseUrl, 'bound-reader');
    const unrelated = await session(testDatabaseUrl, 'unrelated-writer');
    await unrelated.query('BEGIN');
    const { rows } = await unrelated.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid');
    const unrelatedXid = BigInt(rows[0]!.xid);
    let appended!: () => void;
    const hasAppended = new Promise<void>((resolve) => (appended = resolve));
    let commit!: () => void;
    const mayCommit = new Promise<void>((resolve) => (commit = resolve));
    let appenderXid = 0n;
    const appender = store.withTransaction(async (tx) => {
      const [own] = await tx.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid');
      appenderXid = BigInt(own!.xid);
      await tx.appendToStream(`bound-${randomUUID()}`, [like('b')]);
      appended();
      await mayCommit;
    });
    try {
      await hasAppended;
      // A transaction that completes after both got their ids: the snapshot's xmax is
      // then above both, and both are among its running transactions.
      await store.appendToStream(`bound-${randomUUID()}`, [like('c')]);
      const [snap] = (await reader.query<{ snapshot: string }>('SELECT pg_current_snapshot()::text AS snapshot')).rows;
      const running = snap!.snapshot.split(':')[2]!.split(',').map(BigInt);
      expect(running).toEqual(expect.arrayContaining([unrelatedXid, appenderXid]));
      // The open appender bounds the read; the unrelated transaction below it does not.
      expect(await boundFor(reader, snap!.snapshot)).toBe(appenderXid << 20n);
      // The unrelated one commits after the snapshot: no events here, so the bound stays
      // (counting it would move the bound back, below positions a reader has seen).
      await unrelated.query('COMMIT');
      expect(await boundFor(reader, snap!.snapshot)).toBe(appenderXid << 20n);
      commit();
      await appender;
      // The appender committed after the snapshot: its events are invisible to it.
      expect(await boundFor(reader, snap!.snapshot)).toBe(appenderXid << 20n);
    } finally {
      commit();
      await appender.catch(() => {});
      await unrelated.query('ROLLBACK').catch(() => {});
    }
  });
});

describe('a store transaction opened with { appends: false }', () => {
  it('writes without holding back readers, and refuses to append', async () => {
    const category = `ro${randomUUID().slice(0, 8)}`;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let wrote!: () => void;
    const hasWritten = new Promise<void>((resolve) => (wrote = resolve));
    const readModelWriter = store.withTransaction(
      async (tx) => {
        await tx.query('CREATE TEMP TABLE read_model (n int) ON COMMIT DROP');
        await tx.query('INSERT INTO read_model VALUES (1)'); // it has an id now
        const refused = await tx.appendToStream(`${category}-1`, [like(category)]).catch((error: unknown) => error);
        expect(refused).toBeInstanceOf(ValidationError);
        expect(refused).toMatchObject({ field: 'options.appends' });
        wrote();
        await released;
      },
      { appends: false },
    );
    try {
      await hasWritten;
      expect(await msUntilRead(category)).toBeLessThan(1_000);
      expect(await store.logHoldback()).toBeNull();
    } finally {
      release();
      await readModelWriter;
    }
  });
});

describe('an open transaction of this store does hold back the log, and says who it is', () => {
  it('readAll waits for it, and logHoldback names its session and age', async () => {
    const category = `slow${randomUUID().slice(0, 8)}`;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let appended!: () => void;
    const hasAppended = new Promise<void>((resolve) => (appended = resolve));
    const before = Date.now();
    const slow = store.withTransaction(async (tx) => {
      await tx.query(`SET LOCAL application_name = 'slow-importer'`);
      await tx.appendToStream(`${category}-slow`, [like(category)]);
      appended();
      await released;
    });
    try {
      await hasAppended;
      const fast = await store.appendToStream(`${category}-fast`, [like(category)]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await store.readAll({ categories: [category] })).toEqual([]);
      expect(await store.headPosition()).toBeLessThan(fast.lastGlobalPosition);

      const holdback = await store.logHoldback();
      expect(holdback).toMatchObject({ applicationName: 'slow-importer', state: 'idle in transaction' });
      expect(holdback!.pid).toBeGreaterThan(0);
      expect(holdback!.query).toMatch(/WITH tx AS/); // its last statement: the append
      expect(holdback!.ageMs).toBeGreaterThanOrEqual(250);
      expect(holdback!.transactionStartedAt.getTime()).toBeGreaterThanOrEqual(before - 1_000);
    } finally {
      release();
      await slow;
    }
    await eventually(async () => expect(await store.readAll({ categories: [category] })).toHaveLength(2));
    expect(await store.logHoldback()).toBeNull();
  });
});

afterAll(async () => {
  for (const client of sessions.splice(0)) await client.end().catch(() => {});
});
