import type { EventStore } from 'annals';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestStore, eventually, testDatabaseUrl } from '../../setup/database.js';
import {
  batches,
  foldOfLog,
  killAllWorkers,
  likesFor,
  partitionsOf,
  readModel,
  startWorker,
  terminate,
  type RunningWorker,
  type WorkerLine,
  type WorkerSettings,
} from '../support/worker-process.js';

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
  // double application; a missing id shows a skipped event; the counts show both.
  it('resumes after each kill from its committed checkpoint: the read model is the fold of the log, each event applied once', async () => {
    const category = 'killnine';
    const name = 'kill-nine';
    for (const { streamId, events } of likesFor(category, 20, 400)) await store.appendToStream(streamId, events);
    const slow: WorkerSettings = { name, category, batchSize: 25, replayBatchSize: 25, applyDelayMs: 15, traceApplied: true, pollIntervalMs: 50, leaseTtlMs: 1000 };

    // Each next process is started while the one before runs, so that its start-up (a
    // second or two under load) overlaps; it idles until the killed one's lease expires.
    const first = startWorker(testDatabaseUrl, store.schema, { ...slow, workerId: 'killed-1' });
    await first.waitFor((lines) => lines.some((line) => line.kind === 'ready'));
    const second = startWorker(testDatabaseUrl, store.schema, { ...slow, workerId: 'killed-2' });
    await killMidBatch(first);
    const survivor = startWorker(testDatabaseUrl, store.schema, { name, category, pollIntervalMs: 50, leaseTtlMs: 1000, workerId: 'survivor' });
    await killMidBatch(second);

    async function killMidBatch(worker: RunningWorker): Promise<void> {
      // At least one batch committed by this worker, and five events of the next applied
      // in its open transaction (20 more to go at 15 ms each): the kill lands mid-batch.
      await worker.waitFor((lines) => batches(lines).some((b) => b.events! > 0) && appliedSinceLastBatch(lines).length >= 5);
      worker.child.kill('SIGKILL');
      expect(await worker.exited).toEqual({ code: null, signal: 'SIGKILL' });

      // It did land mid-transaction: events were applied that the read model does not
      // hold, and what it holds is exactly the events up to the committed checkpoint.
      const [partition] = await partitionsOf(store, name);
      const checkpoint = partition!.position;
      const lost = appliedSinceLastBatch(worker.lines).map((line) => BigInt(line.position!));
      expect(lost.length, worker.output()).toBeGreaterThanOrEqual(5);
      expect(lost.every((position) => position > checkpoint), `checkpoint ${checkpoint}, rolled back ${lost.join(',')}`).toBe(true);
      const { applied } = await readModel(store, name);
      expect(applied.every((event) => BigInt(event.global_position) <= checkpoint)).toBe(true);
      expect(applied.length).toBe((await eventPositions(category)).filter((position) => position <= checkpoint).length);
      expect(applied.length).toBeLessThan(400);
    }

    // The last one runs at full speed to the end of the log; then a clean stop.
    const log = await foldOfLog(store, category);
    await eventually(async () => expect((await readModel(store, name)).applied.length).toBe(log.eventIds.length), 30_000);
    expect(await terminate(survivor)).toMatchObject({ code: 0, signal: null });

    const model = await readModel(store, name);
    expect(model.counts).toEqual(log.counts);
    expect(model.applied.map((event) => event.event_id).sort()).toEqual(log.eventIds);
    expect(model.applied.filter((event) => event.times !== 1)).toEqual([]);
    // Each of the three processes committed part of the work.
    expect(new Set(model.applied.map((event) => event.worker))).toEqual(new Set(['killed-1', 'killed-2', 'survivor']));
  });
});

async function eventPositions(category: string): Promise<bigint[]> {
  const rows = await store.withTransaction((tx) =>
    tx.query<{ position: string }>(`SELECT global_position::text AS position FROM "${tx.schema}".events WHERE category = $1`, [category]),
  );
  return rows.map((row) => BigInt(row.position));
}
