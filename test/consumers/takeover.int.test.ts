import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { consumerStatus, listDeadLetters, partitionOfKey, runConsumers, type ConsumerRunner, type EventStore } from '../../src/index.js';
import { killAllScripts, startScript } from '../setup/child-process.js';
import { createTestStore, eventually, testDatabaseUrl } from '../setup/database.js';
import { createHandledTable, readHandled } from './support/handled-table.js';
import { appendInterleaved, sortedIds, streamsCovering } from './support/log.js';
import { takeoverConsumer, takeoverPartitions } from './support/takeover-consumer.js';

const store: EventStore = await createTestStore('consumers_takeover');
const script = fileURLToPath(new URL('./support/consumer-script.ts', import.meta.url));
// Small, in both runners, so the test waits for it: the takeover happens within about it.
const leaseTtlMs = 1000;
// A guard against a hang, not a measure of speed: a child process starting on 2 loaded
// cores (node, tsx's transform, its connections) can take tens of seconds.
const patienceMs = 90_000;

const runners: ConsumerRunner[] = [];
afterEach(async () => {
  await Promise.all(runners.splice(0).map((runner) => runner.stop()));
  await killAllScripts();
});

interface Line {
  at: number;
  kind: 'ready' | 'batch' | 'holding' | 'log';
  partition?: number;
  events?: number;
  message?: string;
  eventIds?: string[];
}

/** Resolves once the database serves no connection named `applicationName` (the killed process's). */
async function disconnected(applicationName: string): Promise<void> {
  await eventually(async () => {
    const [row] = await store.withTransaction(
      (tx) => tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1`, [applicationName]),
      { appends: false },
    );
    expect(row!.n, `connections of ${applicationName} still open`).toBe(0);
  }, 30_000);
}

/** The partitions `owner` holds, each with when its lease runs out (epoch ms, rounded down, on the database's clock). */
async function leasesOf(name: string, owner: string): Promise<{ partition: number; expiresAt: number }[]> {
  const rows = await store.withTransaction(
    (tx) =>
      tx.query<{ partition: number; expires_at: string }>(
        `SELECT partition, floor(extract(epoch FROM lease_expires_at) * 1000)::bigint::text AS expires_at
           FROM "${tx.schema}".consumer_partitions WHERE consumer = $1 AND owner = $2 ORDER BY partition`,
        [name, owner],
      ),
    { appends: false },
  );
  return rows.map((row) => ({ partition: row.partition, expiresAt: Number(row.expires_at) }));
}

describe('a runner that dies without releasing its partitions', () => {
  // Catches: a dead owner's partitions never taken over (a claim that waits for a
  // release that never comes), or taken over long after the lease ran out; a live lease
  // stolen (a claim seen before the dead owner's lease_expires_at); the dead owner's
  // batch in flight kept or lost rather than rolled back and redone (its row would be
  // missing, or written twice: the primary key would fail the batch, and the event end
  // up dead-lettered); events skipped or repeated across the hand-over.
  it('has its partitions taken over by another runner within about the lease, and every event handled exactly once', async () => {
    const name = 'takeover';
    const category = 'tko';
    const table = 'takeover_handled';
    await createHandledTable(store, table);
    const streams = streamsCovering(category, takeoverPartitions, 2);
    const holdStream = streams[0]!;
    const holdPartition = partitionOfKey(holdStream, takeoverPartitions);
    // Batches of 3: the first batch of the hold stream's partition commits, the second
    // (with version 3 of the hold stream) is where the first runner is killed.
    const first = await appendInterleaved(store, streams, 4, { data: (streamId, version) => ({ n: version, hold: streamId === holdStream && version === 3 }) });
    const held = first.find((event) => event.streamId === holdStream && event.version === 3)!;

    // Runner A, alone, in a process of its own: it claims every partition.
    const lines: Line[] = [];
    const applicationName = `annals-test-consumer-${randomUUID().slice(0, 8)}`;
    const a = startScript(
      script,
      {
        DATABASE_URL: testDatabaseUrl,
        ANNALS_SCHEMA: store.schema,
        CONSUMER_NAME: name,
        CONSUMER_CATEGORY: category,
        HANDLED_TABLE: table,
        WORKER_ID: 'takeover-a',
        LEASE_TTL_MS: String(leaseTtlMs),
        PGAPPNAME: applicationName,
      },
      (line) => {
        try {
          lines.push(JSON.parse(line) as Line);
        } catch {
          // Not one of ours (a warning printed by node).
        }
      },
    );
    const output = () => `stdout:\n${lines.map((line) => JSON.stringify(line)).join('\n')}\nstderr:\n${a.stderr()}`;
    await a.waitUntil(() => lines.some((line) => line.kind === 'ready'), patienceMs, (why) => `runner A ${why} before it was ready; ${output()}`);
    expect((await leasesOf(name, 'takeover-a')).map((lease) => lease.partition)).toEqual([0, 1, 2, 3]);
    await a.waitUntil(() => lines.some((line) => line.kind === 'holding'), patienceMs, (why) => `runner A ${why} before holding; ${output()}`);
    expect(lines.find((line) => line.kind === 'holding')!.eventIds).toContain(held.id);

    // Killed in the middle of a batch: nothing released, the batch's transaction open.
    a.child.kill('SIGKILL');
    expect(await a.exited).toEqual({ code: null, signal: 'SIGKILL' });
    await disconnected(applicationName);
    const leases = await leasesOf(name, 'takeover-a');
    expect(leases.map((lease) => lease.partition)).toEqual([0, 1, 2, 3]);
    const leftByA = await readHandled(store, table);
    expect(leftByA.length).toBeGreaterThan(0);
    expect(leftByA.every((row) => row.worker === 'takeover-a')).toBe(true);
    expect(leftByA.map((row) => row.eventId)).not.toContain(held.id);

    // Runner B, in this process: same lease, more events to handle in every partition.
    const claims: { partition: number; at: number }[] = [];
    const b = runConsumers(store, [takeoverConsumer({ name, category, table, worker: 'takeover-b' })], {
      workerId: 'takeover-b',
      leaseTtlMs,
      pollIntervalMs: 50,
      logger: {
        info: (details, message) => {
          if (message === 'partition claimed') claims.push({ partition: (details as { partition: number }).partition, at: Date.now() });
        },
        warn: () => {},
        error: () => {},
      },
    });
    runners.push(b);
    const second = await appendInterleaved(store, streams, 2, { from: 5 });
    const appended = [...first, ...second];
    await eventually(async () => {
      const { partitions } = await consumerStatus(store, [{ name }]);
      expect(partitions.map((p) => p.owner)).toEqual(['takeover-b', 'takeover-b', 'takeover-b', 'takeover-b']);
      expect(partitions.filter((p) => p.position < appended.at(-1)!.globalPosition)).toEqual([]);
    }, patienceMs);

    // Each partition claimed by B once A's lease on it had run out (same host, same
    // clock: a claim is logged after it commits), and not long after.
    for (const { partition, expiresAt } of leases) {
      const claim = claims.find((c) => c.partition === partition);
      expect(claim, `partition ${partition} was not claimed by B`).toBeDefined();
      expect(claim!.at, `partition ${partition} claimed before A's lease ran out`).toBeGreaterThanOrEqual(expiresAt);
      // Within about the lease: B's next rounds (every third of it) claim it once A's
      // lease and heartbeat have run out. Generous for a loaded machine.
      expect(claim!.at - expiresAt, `partition ${partition} taken over late`).toBeLessThan(10 * leaseTtlMs);
    }

    // Every event exactly once, each stream in version order; the batch A was killed in
    // redone by B.
    const rows = await readHandled(store, table);
    expect(rows.map((row) => row.eventId).sort()).toEqual(sortedIds(appended));
    for (const streamId of streams) expect(rows.filter((row) => row.streamId === streamId).map((row) => row.version), streamId).toEqual([1, 2, 3, 4, 5, 6]);
    expect(rows.find((row) => row.eventId === held.id)!.worker).toBe('takeover-b');
    expect(rows.filter((row) => row.worker === 'takeover-a')).toEqual(leftByA);
    expect(leftByA.some((row) => row.partition === holdPartition)).toBe(true);
    const status = await consumerStatus(store, [{ name }]);
    expect(status.pendingDeadLetters).toEqual({ [name]: 0 });
    expect(status.partitions.map((p) => p.retries)).toEqual([0, 0, 0, 0]);
    expect(await listDeadLetters(store, { projection: name })).toEqual([]);

    // B stops cleanly: it gives every partition back.
    await b.stop();
    expect((await consumerStatus(store, [{ name }])).partitions.map((p) => p.owner)).toEqual([null, null, null, null]);
  }, 240_000);
});
