import type { EventStore } from 'annals';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestStore, eventually, testDatabaseUrl } from '../../setup/database.js';
import { foldOfLog, likesFor, partitionsOf, readModel } from '../support/read-model.js';
import { disconnected, killAllWorkers, startWorker, terminate, type RunningWorker } from '../support/running-worker.js';
import { batches, type WorkerLine } from '../support/worker-lines.js';
import type { WorkerSettings } from '../support/worker-settings.js';

// At the top level, not in beforeAll: createTestStore registers the hooks that close the
// store and drop the schema, and hooks registered while another hook runs never run.
const store: EventStore = await createTestStore('proj_kill9');
afterEach(() => killAllWorkers());

/** The events applied (printed before commit) since the worker's last committed batch. */
function appliedSinceLastBatch(lines: readonly WorkerLine[]): WorkerLine[] {
  const last = lines.findLastIndex((line) => line.kind === 'batch');
  return lines.slice(last + 1).filter((line) => line.kind === 'applied');
}

describe('a projection worker killed with SIGKILL in the middle of a batch', () => {
  // Catches: a checkpoint that is not committed in the same transaction as the read-model
  // writes (the restarted worker would count the killed batch's events twice, or skip
  // them), a checkpoint moved before the batch is applied, and any resume that starts
  // from somewhere else than the committed checkpoint. `applied_events.times` > 1 shows
  // double application; a missing id shows a skipped event; the counts show both; the
  // first event each new process applies shows where it resumed.
  it('resumes after each kill from its committed checkpoint: the read model is the fold of the log, each event applied once', async () => {
    const category = 'killnine';
    const name = 'kill-nine';
    for (const { streamId, events } of likesFor(category, 20, 400)) await store.appendToStream(streamId, events);
    const positions = await eventPositions(category);
    const settings: WorkerSettings = { name, category, batchSize: 25, replayBatchSize: 25, traceApplied: true, pollIntervalMs: 50, leaseTtlMs: 2000 };

    // One process at a time, each started once the one before is dead: the partition's
    // next owner is then the only candidate, not the winner of a race for the lease,
    // which the product does not order. Each killed process has committed a batch and
    // holds the next one open, five events applied (holdAfterApplied): the kill lands
    // mid-batch however slow the machine is.
    let checkpoint = 0n;
    for (const workerId of ['killed-1', 'killed-2']) {
      const worker = startWorker(testDatabaseUrl, store.schema, { ...settings, holdAfterApplied: 5, workerId });
      await worker.waitFor((lines) => lines.some((line) => line.kind === 'holding'));
      checkpoint = await killMidBatch(worker, checkpoint);
    }

    async function killMidBatch(worker: RunningWorker, resumedFrom: bigint): Promise<bigint> {
      // The database says it owns the partition, and it resumed where the one before left off.
      const [owned] = await partitionsOf(store, name);
      expect(owned!.owner).toBe(worker.settings.workerId);
      expect(firstApplied(worker), worker.output()).toBe(positions.find((position) => position > resumedFrom));

      worker.child.kill('SIGKILL');
      expect(await worker.exited).toEqual({ code: null, signal: 'SIGKILL' });
      // Once the database has dropped its connections, its open transaction is rolled back.
      await disconnected(store, worker);

      // It did die mid-transaction: events were applied that the read model does not
      // hold, and what it holds is exactly the events up to the committed checkpoint,
      // which is where this process's last committed batch put it.
      const [partition] = await partitionsOf(store, name);
      const committed = partition!.position;
      expect(committed).toBe(BigInt(batches(worker.lines).at(-1)!.position!));
      expect(committed).toBeGreaterThan(resumedFrom);
      const lost = appliedSinceLastBatch(worker.lines).map((line) => BigInt(line.position!));
      expect(lost.length, worker.output()).toBeGreaterThanOrEqual(5);
      expect(lost.every((position) => position > committed), `checkpoint ${committed}, rolled back ${lost.join(',')}`).toBe(true);
      const { applied } = await readModel(store, name);
      expect(applied.every((event) => BigInt(event.global_position) <= committed)).toBe(true);
      expect(applied.length).toBe(positions.filter((position) => position <= committed).length);
      expect(applied.length).toBeLessThan(400);
      return committed;
    }

    // The last one runs at full speed to the end of the log; then a clean stop.
    const survivor = startWorker(testDatabaseUrl, store.schema, { name, category, traceApplied: true, pollIntervalMs: 50, leaseTtlMs: 2000, workerId: 'survivor' });
    const log = await foldOfLog(store, category);
    await eventually(async () => expect((await readModel(store, name)).applied.length).toBe(log.eventIds.length), 120_000);
    expect(firstApplied(survivor), survivor.output()).toBe(positions.find((position) => position > checkpoint));
    expect(await terminate(survivor)).toMatchObject({ code: 0, signal: null });

    const model = await readModel(store, name);
    expect(model.counts).toEqual(log.counts);
    expect(model.applied.map((event) => event.event_id).sort()).toEqual(log.eventIds);
    expect(model.applied.filter((event) => event.times !== 1)).toEqual([]);
    // Each of the three processes committed part of the work.
    expect(new Set(model.applied.map((event) => event.worker))).toEqual(new Set(['killed-1', 'killed-2', 'survivor']));
  }, 300_000); // only a guard against a hang: three processes start one after another
});

/** The position of the first event `worker` applied. */
function firstApplied(worker: RunningWorker): bigint | undefined {
  const line = worker.lines.find((l) => l.kind === 'applied');
  return line === undefined ? undefined : BigInt(line.position!);
}

/** The positions of the events of `category`, in log order. */
async function eventPositions(category: string): Promise<bigint[]> {
  const rows = await store.withTransaction((tx) =>
    tx.query<{ position: string }>(`SELECT global_position::text AS position FROM "${tx.schema}".events WHERE category = $1 ORDER BY global_position`, [category]),
  );
  return rows.map((row) => BigInt(row.position));
}
