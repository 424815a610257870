import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventStore, type AppendResult, type EventStore, type MigrationResult, type RecordedEvent } from '../../src/index.js';
// Not exported from 'annals' (yet): the class is what callers would branch on.
import { LogAheadError } from '../../src/errors.js';
import { appenderKey, appenderLockClass } from '../../src/event-store/postgres/log-bound.js';
import { createTestStore, testDatabaseUrl, useTestSchema } from '../setup/database.js';
import { findPostgresBinDir, startPrivateCluster, type PrivateCluster } from '../setup/private-cluster.js';

/*
 * A store moved to another Postgres cluster for real (docs/global-log.md): written on the
 * suite's server, dumped with pg_dump, restored with pg_restore into a cluster this file
 * starts itself, whose transaction ids are far behind the stored global positions. There
 * the store must refuse to append or read until migrate() raises its position offset,
 * and then go on above the restored log, so a consumer resumes from its checkpoint.
 */

// At the top level: the helpers register the file's clean-up hooks.
const source: EventStore = await createTestStore('move_server');
const unmoved = useTestSchema('move_unmoved');

const consumer = 'move-consumer';
let cluster: PrivateCluster | undefined;
let moved: EventStore;
let movedSql: pg.Client;
let restored: RecordedEvent[]; // the whole log as dumped, in order
let restoredMax: bigint;
let checkpoint: bigint;
const opened: EventStore[] = [];
const clients: pg.Client[] = [];

const event = (type: string, data: Record<string, unknown> = {}) => ({ id: randomUUID(), type, data });

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  clients.push(client);
  return client;
}

function openStore(url: string): EventStore {
  const store = createEventStore({ connectionString: url, maxConnections: 20 }, { schema: source.schema });
  opened.push(store);
  return store;
}

/** The events table as SQL sees it: what an append that was refused must not have changed. */
async function logRows(client: pg.Client): Promise<{ count: number; max: bigint; offset: bigint }> {
  const s = `"${source.schema}"`;
  const { rows } = await client.query<{ count: number; max: string; offset: string }>(
    `SELECT count(*)::int AS count, coalesce(max(global_position), 0)::text AS max,
            (SELECT xid_offset FROM ${s}.global_log)::text AS offset
       FROM ${s}.events`,
  );
  return { count: rows[0]!.count, max: BigInt(rows[0]!.max), offset: BigInt(rows[0]!.offset) };
}

/** Awaits `promise`, expecting a LogAheadError that names the restored log's head. */
async function refused(promise: Promise<unknown>): Promise<LogAheadError> {
  const error = await promise.then(
    () => new Error('expected a LogAheadError, but it succeeded'),
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(LogAheadError);
  const logAhead = error as LogAheadError;
  expect(logAhead.code).toBe('ANNALS_LOG_AHEAD');
  expect(logAhead.logPosition).toBe(restoredMax);
  expect(logAhead.serverPosition).toBeGreaterThan(0n);
  expect(logAhead.serverPosition).toBeLessThan(restoredMax);
  return logAhead;
}

/** One consumer step: the page after the consumer's checkpoint, then the checkpoint moved past it. */
async function consumePage(store: EventStore, limit: number): Promise<RecordedEvent[]> {
  const page = await store.readAll({ after: await store.readCheckpoint(consumer), limit });
  if (page.length > 0) await store.saveCheckpoint(consumer, page.at(-1)!.globalPosition);
  return page;
}

function expectIncreasing(events: readonly RecordedEvent[]): void {
  for (let i = 1; i < events.length; i++) expect(events[i]!.globalPosition).toBeGreaterThan(events[i - 1]!.globalPosition);
}

/** Raises the suite server's transaction counter to `target` if it is lower (fresh CI databases). */
async function burnTransactionIds(client: pg.Client, target: number): Promise<void> {
  const { rows } = await client.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid');
  for (let xid = Number(rows[0]!.xid); xid < target; xid++) await client.query('SELECT pg_current_xact_id()');
}

/** Restores the dump into a new database `name` of the private cluster. */
async function restoreInto(name: string, dump: string): Promise<void> {
  await (await connect(cluster!.url())).query(`CREATE DATABASE "${name}"`);
  await cluster!.run('pg_restore', ['--dbname', cluster!.url(name), '--exit-on-error', '--no-owner', dump]);
}

beforeAll(async () => {
  const main = await connect(testDatabaseUrl);
  // A fresh cluster starts near transaction 730; the store's positions must be far above.
  await burnTransactionIds(main, 5000);

  // Given a store with a history of many transactions on the suite's server.
  await source.appendToStream('account-1', [event('AccountOpened'), event('Deposited', { amount: 10 })], { expectedVersion: 'no_stream' });
  await source.appendToStream('account-2', [event('AccountOpened')], { expectedVersion: 'no_stream' });
  await source.appendToStream('account-1', [event('Deposited', { amount: 5 })], { expectedVersion: 2 });
  await source.withTransaction(async (tx) => {
    await tx.appendToStream('account-2', [event('Deposited', { amount: 7 })]);
    await tx.appendToStream('account-3', [event('AccountOpened')], { expectedVersion: 'no_stream' });
  });
  for (let i = 0; i < 4; i++) await source.appendToStream(`account-${1 + (i % 3)}`, [event('Withdrawn', { amount: i })]);
  // ...and a consumer that has processed the first five events.
  expect(await consumePage(source, 5)).toHaveLength(5);
  checkpoint = await source.readCheckpoint(consumer);
  restored = await source.readAll();
  expect(restored).toHaveLength(10);
  restoredMax = restored.at(-1)!.globalPosition;

  // When it is dumped and restored into a cluster of its own.
  const { rows } = await main.query<{ version: string }>('SHOW server_version_num');
  cluster = await startPrivateCluster({ binDir: findPostgresBinDir(Math.floor(Number(rows[0]!.version) / 10000)) });
  const dump = join(cluster.dir, 'store.dump');
  await cluster.run('pg_dump', ['--dbname', testDatabaseUrl, '--schema', source.schema, '--format', 'custom', '--file', dump]);
  await restoreInto('moved', dump);
  await restoreInto('moved_race', dump);
  moved = openStore(cluster.url('moved'));
  movedSql = await connect(cluster.url('moved'));

  // The premise: the new cluster's transaction ids are behind the restored positions.
  const now = await movedSql.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid');
  expect(BigInt(now.rows[0]!.xid), 'the private cluster is not behind the restored log: the test proves nothing').toBeLessThan(restoredMax >> 20n);
  expect(await logRows(movedSql)).toEqual({ count: restored.length, max: restoredMax, offset: 0n });
});

afterAll(async () => {
  // Everything connected to the private cluster first, then the cluster itself.
  for (const store of opened) await store.close().catch(() => {});
  for (const client of clients) await client.end().catch(() => {});
  await cluster?.stop();
});

describe('a store restored into another cluster', () => {
  it('refuses appends before migrate(), and writes nothing', async () => {
    await refused(moved.appendToStream('account-1', [event('Deposited', { amount: 1 })]));
    await refused(moved.appendToStream('account-1', [event('Deposited', { amount: 1 })], { expectedVersion: 5 }));
    await refused(moved.appendToStream('account-9', [event('AccountOpened')], { expectedVersion: 'no_stream' }));
    await refused(moved.withTransaction((tx) => tx.appendToStream('account-2', [event('Deposited', { amount: 1 })])));

    expect(await logRows(movedSql)).toEqual({ count: restored.length, max: restoredMax, offset: 0n });
    const streams = await movedSql.query(`SELECT stream_id, version::int FROM "${source.schema}".streams ORDER BY stream_id`);
    expect(streams.rows).toEqual([
      { stream_id: 'account-1', version: 5 },
      { stream_id: 'account-2', version: 3 },
      { stream_id: 'account-3', version: 2 },
    ]);
    // The checkpoint came along with the log.
    expect(await moved.readCheckpoint(consumer)).toBe(checkpoint);
  });

  it('refuses to read the log before migrate(), rather than return nothing', async () => {
    await refused(moved.readAll());
    await refused(moved.readAll({ after: checkpoint, limit: 10 }));
    await refused(moved.headPosition());
  });

  it('migrate() raises the position offset, and readers see the restored log again', async () => {
    const result = await moved.migrate();

    expect(result.applied).toEqual([]);
    expect(result.logOffset).toBeDefined();
    const { previous, current } = result.logOffset!;
    expect(previous).toBe(0n);
    expect(current).toBeGreaterThan(previous);
    expect((await logRows(movedSql)).offset).toBe(current);
    expect(await moved.headPosition()).toBe(restoredMax);
    expect((await moved.readAll()).map((e) => e.id)).toEqual(restored.map((e) => e.id));
  });

  it('appends many at once right after migrate(), all above every restored position, streams going on from their versions', async () => {
    const appends = [
      // Plain appends to restored streams, several to each (the store retries per-stream order).
      ...Array.from({ length: 9 }, (_, i) => moved.appendToStream(`account-${1 + (i % 3)}`, [event('Deposited', { amount: 100 + i })])),
      ...Array.from({ length: 4 }, (_, i) =>
        moved.appendToStream(`account-new${i}`, [event('AccountOpened'), event('Deposited', { amount: i })], { expectedVersion: 'no_stream' }),
      ),
      ...Array.from({ length: 3 }, (_, i) =>
        moved.withTransaction(async (tx) => {
          await tx.appendToStream(`ledger-${i}`, [event('Posted', { line: 1 })]);
          return tx.appendToStream(`ledger-${i}`, [event('Posted', { line: 2 })]);
        }),
      ),
    ];
    const results = await Promise.all(appends);

    for (const result of results) expect(result.lastGlobalPosition).toBeGreaterThan(restoredMax);
    const appended = await moved.readAll({ after: restoredMax });
    expect(appended).toHaveLength(9 + 4 * 2 + 3 * 2);
    expectIncreasing(appended);
    expect(appended.map((e) => e.globalPosition)).toEqual(expect.arrayContaining(results.map((r) => r.lastGlobalPosition)));
    // Nothing landed among the restored events.
    expect(await logRows(movedSql)).toMatchObject({ count: restored.length + appended.length });
    const below = await movedSql.query(`SELECT count(*)::int AS n FROM "${source.schema}".events WHERE global_position <= $1`, [restoredMax.toString()]);
    expect(below.rows[0].n).toBe(restored.length);

    const restoredVersions = { 'account-1': 5, 'account-2': 3, 'account-3': 2 };
    for (const [streamId, restoredVersion] of Object.entries(restoredVersions)) {
      const stream = await moved.readStream(streamId);
      expect(stream.map((e) => e.version)).toEqual(Array.from({ length: restoredVersion + 3 }, (_, i) => i + 1));
      expectIncreasing(stream);
      expect(stream.slice(restoredVersion).every((e) => e.globalPosition > restoredMax)).toBe(true);
    }
    expect((await moved.readStream('ledger-0')).map((e) => e.version)).toEqual([1, 2]);
    expect(await moved.headPosition()).toBe(appended.at(-1)!.globalPosition);
  });

  it('readAll after the checkpoint returns the rest of the restored log, then the new events', async () => {
    const afterCheckpoint = await moved.readAll({ after: checkpoint });

    expectIncreasing(afterCheckpoint);
    const rest = restored.filter((e) => e.globalPosition > checkpoint);
    expect(rest).toHaveLength(5);
    expect(afterCheckpoint.slice(0, rest.length).map((e) => e.id)).toEqual(rest.map((e) => e.id));
    expect(afterCheckpoint.slice(rest.length).every((e) => e.globalPosition > restoredMax)).toBe(true);
    expect(afterCheckpoint).toHaveLength(rest.length + (await moved.readAll({ after: restoredMax })).length);
  });

  it('a consumer resumed from its checkpoint sees every later event exactly once, in order', async () => {
    const expected = await moved.readAll({ after: checkpoint });
    const seen: RecordedEvent[] = [];
    for (let page = await consumePage(moved, 4); page.length > 0; page = await consumePage(moved, 4)) seen.push(...page);

    expect(seen.map((e) => e.id)).toEqual(expected.map((e) => e.id));
    expect(new Set(seen.map((e) => e.id)).size).toBe(seen.length);
    expectIncreasing(seen);
    expect(await moved.readCheckpoint(consumer)).toBe(seen.at(-1)!.globalPosition);

    // Caught up, it sees the next append, and only that.
    const next = event('Deposited', { amount: 1 });
    const { lastGlobalPosition } = await moved.appendToStream('account-1', [next]);
    expect((await consumePage(moved, 4)).map((e) => e.id)).toEqual([next.id]);
    expect(await moved.readCheckpoint(consumer)).toBe(lastGlobalPosition);
    expect(await consumePage(moved, 4)).toEqual([]);
  });

  it('migrate() again changes nothing', async () => {
    const before = await logRows(movedSql);
    expect(await moved.migrate()).toStrictEqual<MigrationResult>({ applied: [] });
    expect(await logRows(movedSql)).toEqual(before);
  });

  it('appends racing migrate() either wait for it and land above the restored log, or are refused; one migrate() raises the offset', async () => {
    const racing = openStore(cluster!.url('moved_race'));
    const raceSql = await connect(cluster!.url('moved_race'));
    const holder = await connect(cluster!.url('moved_race'));
    // A running appender (as withTransaction registers one): migrate() must wait for it,
    // and appends that arrive meanwhile queue behind migrate()'s exclusive lock.
    await holder.query('BEGIN');
    await holder.query('SELECT pg_advisory_xact_lock_shared($1, $2)', [appenderLockClass, appenderKey(source.schema)]);

    const migrations = [racing.migrate(), racing.migrate()];
    await untilWaitingForLocks(raceSql, 2);
    const early = Array.from({ length: 6 }, (_, i) => settle(racing.appendToStream(`account-${1 + (i % 3)}`, [event('Deposited', { amount: i })])));
    await untilWaitingForLocks(raceSql, 2 + early.length);
    await holder.query('COMMIT');
    const later: Promise<PromiseSettledResult<AppendResult>>[] = [];
    for (let i = 0; i < 6; i++) {
      later.push(settle(racing.appendToStream(`race-${i}`, [event('Posted')], { expectedVersion: 'no_stream' })));
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    const outcomes = await Promise.all([...early, ...later]);
    const results = await Promise.all(migrations);

    // Exactly one of the two concurrent migrate() calls raised the offset.
    expect(results.filter((r) => r.logOffset !== undefined)).toHaveLength(1);
    let written = 0;
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') {
        written++;
        expect(outcome.value.lastGlobalPosition).toBeGreaterThan(restoredMax);
      } else {
        expect(outcome.reason).toBeInstanceOf(LogAheadError);
      }
    }
    const below = await raceSql.query(`SELECT count(*)::int AS n FROM "${source.schema}".events WHERE global_position <= $1`, [restoredMax.toString()]);
    expect(below.rows[0].n).toBe(restored.length);
    expect((await logRows(raceSql)).count).toBe(restored.length + written);
    // Once migrate() has returned, every append goes through.
    expect((await racing.appendToStream('account-1', [event('Deposited')])).lastGlobalPosition).toBeGreaterThan(restoredMax);
  });
});

describe('a store that was not moved', () => {
  it('migrate() leaves the position offset alone', async () => {
    expect(await source.migrate()).toStrictEqual<MigrationResult>({ applied: [] });
    expect(await logRows(await connect(testDatabaseUrl))).toMatchObject({ offset: 0n });

    const store = createEventStore({ connectionString: unmoved.databaseUrl }, { schema: unmoved.schema });
    opened.push(store);
    const first = await store.migrate();
    expect(first.applied.length).toBeGreaterThan(0);
    expect(first.logOffset).toBeUndefined();
    await store.appendToStream('account-1', [event('AccountOpened')]);
    expect(await store.migrate()).toStrictEqual<MigrationResult>({ applied: [] });
    expect(await store.readAll()).toHaveLength(1);
  });
});

/** The outcome of `promise`, handled at once: the test awaits it only after other steps. */
function settle<T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> {
  return promise.then(
    (value) => ({ status: 'fulfilled', value }),
    (reason: unknown) => ({ status: 'rejected', reason }),
  );
}

/** Resolves once `count` sessions wait for an advisory lock on the race database. */
async function untilWaitingForLocks(client: pg.Client, count: number): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    const { rows } = await client.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`,
    );
    if (rows[0].n >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`fewer than ${count} sessions ever waited for an advisory lock`);
}
