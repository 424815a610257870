import { partitionOfKey, type EventStore } from 'annals';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestStore, eventually, testDatabaseUrl } from '../../setup/database.js';
import { foldOfLog, likesFor, partitionsOf, readModel } from '../support/read-model.js';
import { killAllWorkers, startWorker, terminate } from '../support/running-worker.js';
import { batches, type WorkerLine } from '../support/worker-lines.js';

// At the top level, not in beforeAll: createTestStore registers the hooks that close the
// store and drop the schema, and hooks registered while another hook runs never run.
const store: EventStore = await createTestStore('proj_sigterm');
afterEach(() => killAllWorkers());

async function leases(name: string): Promise<{ partition: number; owner: string | null; lease_expires_at: Date | null }[]> {
  return store.withTransaction((tx) =>
    tx.query(`SELECT partition, owner, lease_expires_at FROM "${tx.schema}".consumer_partitions WHERE consumer = $1 ORDER BY partition`, [name]),
  );
}

async function registeredWorkers(workerId: string): Promise<number> {
  const [row] = await store.withTransaction((tx) =>
    tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${tx.schema}".consumer_workers WHERE worker_id = $1`, [workerId]),
  );
  return row!.n;
}

describe('a projection worker process stopped with SIGTERM', () => {
  // Catches: a stop that leaves leases owned (the next process would wait a whole TTL
  // for them: its first round would claim nothing), that exits non-zero or hangs on a
  // batch in flight, that commits half a batch or a checkpoint without its writes, or
  // that leaves the worker registered (the others would keep counting it in their share).
  it('in the middle of a batch: exits 0, releases its leases, and the next process takes over at once', async () => {
    const category = 'sigterm';
    const name = 'sigterm';
    const partitions = 4;
    for (const { streamId, events } of likesFor(category, 16, 400)) await store.appendToStream(streamId, events);
    // A long TTL: if the leases were not released, the next process could not have them for 20 s.
    const settings = { name, category, partitions, leaseTtlMs: 20_000, pollIntervalMs: 50 };
    const first = startWorker(testDatabaseUrl, store.schema, { ...settings, batchSize: 20, applyDelayMs: 10, traceApplied: true, workerId: 'stopped' });
    await first.waitFor((lines) => {
      const last = lines.findLastIndex((line) => line.kind === 'batch');
      return batches(lines).some((b) => b.events! > 0) && lines.slice(last + 1).some((line) => line.kind === 'applied');
    }, 90_000);
    expect((await leases(name)).every((row) => row.owner === 'stopped')).toBe(true);
    const exit = await terminate(first);
    expect(exit, first.output()).toMatchObject({ code: 0, signal: null });
    expect(exit.ms).toBeLessThan(10_000);
    expect(first.lines.at(-1)?.kind).toBe('stopped');

    expect(await leases(name)).toEqual([0, 1, 2, 3].map((partition) => ({ partition, owner: null, lease_expires_at: null })));
    expect(await registeredWorkers('stopped')).toBe(0);
    // What it committed is whole: the read model holds exactly the events up to each checkpoint.
    const model = await readModel(store, name);
    const checkpoints = new Map((await partitionsOf(store, name)).map((row) => [row.partition, row.position]));
    expect(model.applied.every((event) => BigInt(event.global_position) <= checkpoints.get(event.partition)!)).toBe(true);
    expect(model.applied.length).toBeGreaterThan(0);
    expect(model.applied.length).toBe(await eventsUpToCheckpoints(category, checkpoints, partitions));

    // The next process claims every partition in its first round (its `ready` comes after it).
    const next = startWorker(testDatabaseUrl, store.schema, { ...settings, workerId: 'next' });
    await next.waitFor((lines) => lines.some((line) => line.kind === 'ready'), 90_000);
    const ready = next.lines.find((line) => line.kind === 'ready')!;
    const claimed = (lines: readonly WorkerLine[]) => lines.filter((line) => line.message === 'partition claimed' && line.at <= ready.at);
    expect(claimed(next.lines).map((line) => line.partition).sort()).toEqual([0, 1, 2, 3]);

    const log = await foldOfLog(store, category);
    await eventually(async () => expect((await readModel(store, name)).applied.length).toBe(log.eventIds.length), 120_000);
    expect(await terminate(next)).toMatchObject({ code: 0, signal: null });
    const end = await readModel(store, name);
    expect(end.counts).toEqual(log.counts);
    expect(end.applied.filter((event) => event.times !== 1)).toEqual([]);
  }, 240_000); // only a guard against a hang: start-up is slow on a loaded machine

  it('while idle in a long poll: exits 0 promptly and releases its lease', async () => {
    const name = 'sigterm-idle';
    const idle = startWorker(testDatabaseUrl, store.schema, { name, category: 'sigtermidle', pollIntervalMs: 60_000, leaseTtlMs: 20_000, workerId: 'idle' });
    await idle.waitFor((lines) => lines.some((line) => line.kind === 'ready'), 90_000);
    await new Promise((resolve) => setTimeout(resolve, 300)); // into its poll: there is nothing to do
    expect((await leases(name)).map((row) => row.owner)).toEqual(['idle']);
    const exit = await terminate(idle);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.ms).toBeLessThan(5000);
    expect((await leases(name)).map((row) => row.owner)).toEqual([null]);
    expect(await registeredWorkers('idle')).toBe(0);
  }, 180_000);
});

/** How many events of `category` lie at or below the checkpoint of their partition. */
async function eventsUpToCheckpoints(category: string, checkpoints: Map<number, bigint>, partitions: number): Promise<number> {
  const rows = await store.withTransaction((tx) =>
    tx.query<{ stream_id: string; position: string }>(`SELECT stream_id, global_position::text AS position FROM "${tx.schema}".events WHERE category = $1`, [
      category,
    ]),
  );
  return rows.filter((row) => BigInt(row.position) <= checkpoints.get(partitionOfKey(row.stream_id, partitions))!).length;
}
