import { partitionOfKey, type EventStore } from 'annals';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestStore, eventually, testDatabaseUrl } from '../../setup/database.js';
import { foldOfLog, likesFor, partitionsOf, readModel, type AppliedEvent } from '../support/read-model.js';
import { killAllWorkers, startWorker, terminate } from '../support/running-worker.js';
import { batches } from '../support/worker-lines.js';

// At the top level, not in beforeAll: createTestStore registers the hooks that close the
// store and drop the schema, and hooks registered while another hook runs never run.
const store: EventStore = await createTestStore('proj_key_order');
afterEach(() => killAllWorkers());

describe('a partitioned projection run by several processes', () => {
  // Catches: an event routed to the wrong partition (two partitions, so two processes,
  // applying one stream's events concurrently: versions interleaved out of order); a
  // hand-over of a partition between processes (the first ones give partitions back
  // when the others join) that re-applies or skips events of a stream (a repeated or
  // missing version); a checkpoint that moves past events of one partition that are
  // still invisible (a gap). And it shows the partitions really ran in parallel, in
  // different processes, so the order did not come from running one at a time.
  // It waits for what the database shows (the partitions shared out, events applied by
  // two processes), not for the others to happen to join while work is left.
  it('applies the events of each stream in stream order, without gaps, while partitions run in parallel in different processes', async () => {
    const category = 'keyorder';
    const name = 'key-order';
    const partitions = 4;
    // A backlog, so that the first process has work in every partition when the others join.
    for (const { streamId, events } of likesFor(category, 12, 480, 'a')) await store.appendToStream(streamId, events);
    // A TTL long enough that no live owner loses a lease to slow rounds on a loaded machine.
    const settings = { name, category, partitions, batchSize: 20, applyDelayMs: 3, pollIntervalMs: 50, leaseTtlMs: 4000 };
    const workers = [0, 1, 2].map((i) => startWorker(testDatabaseUrl, store.schema, { ...settings, workerId: `order-w${i}` }));
    await Promise.all(workers.map((worker) => worker.waitFor((lines) => lines.some((line) => line.kind === 'ready'), 90_000)));
    // Shared out: every partition owned, none by a process above its share (2 of 4 for 3
    // processes), so at least two processes own partitions, and every stream's events go
    // to one of them (12 streams over at least 3 partitions, asserted below).
    await eventually(async () => {
      const owners = (await partitionsOf(store, name)).map((row) => row.owner);
      expect(owners).toHaveLength(partitions);
      expect(owners.every((owner) => owner !== null && owners.filter((o) => o === owner).length <= 2), JSON.stringify(owners)).toBe(true);
    }, 90_000);
    // More events while they run: one at a time per stream, so versions keep coming. The
    // first round is applied by two processes or more before the others are appended:
    // their spans of application then overlap (each began by that point, each goes on
    // to apply events appended after it).
    const before = (await foldOfLog(store, category)).head;
    for (let round = 0; round < 10; round++) {
      for (const { streamId, events } of likesFor(category, 12, 24, `b${round}`)) await store.appendToStream(streamId, events);
      if (round === 0) {
        await eventually(async () => {
          const appliers = new Set((await readModel(store, name)).applied.filter((event) => BigInt(event.global_position) > before).map((event) => event.worker));
          expect(appliers.size).toBeGreaterThanOrEqual(2);
        }, 90_000);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const log = await foldOfLog(store, category);
    await eventually(async () => expect((await readModel(store, name)).applied.length).toBe(log.eventIds.length), 120_000);
    const exits = await Promise.all(workers.map((worker) => terminate(worker)));
    expect(exits.map(({ code }) => code)).toEqual([0, 0, 0]);

    const { applied, counts } = await readModel(store, name);
    expect(applied.filter((event) => event.times !== 1)).toEqual([]);
    expect(counts).toEqual(log.counts);
    const byStream = new Map<string, AppliedEvent[]>();
    for (const event of applied) byStream.set(event.stream_id, [...(byStream.get(event.stream_id) ?? []), event]);
    expect(byStream.size).toBe(12);
    for (const [streamId, events] of byStream) {
      // `applied` is in apply order (seq): the versions must read 1, 2, 3, … exactly.
      const versions = events.map((event) => event.stream_version);
      expect(versions, streamId).toEqual(versions.map((_, i) => i + 1));
      expect(new Set(events.map((event) => event.partition)), streamId).toEqual(new Set([partitionOfKey(streamId, partitions)]));
    }
    // The streams do spread over the partitions (else the test would prove little).
    expect(new Set(applied.map((event) => event.partition)).size).toBeGreaterThanOrEqual(3);

    // More than one process applied events, and at the same time: some two of them have
    // overlapping spans of applied_at (the database's clock) and both committed batches.
    const spans = new Map<string, { from: number; to: number }>();
    for (const event of applied) {
      const at = new Date(event.applied_at).getTime();
      const span = spans.get(event.worker) ?? { from: at, to: at };
      spans.set(event.worker, { from: Math.min(span.from, at), to: Math.max(span.to, at) });
    }
    expect(spans.size, `appliers: ${[...spans.keys()].join(', ')}`).toBeGreaterThan(1);
    const list = [...spans.values()];
    const overlapping = list.some((a, i) => list.some((b, j) => i !== j && a.from < b.to && b.from < a.to));
    expect(overlapping, JSON.stringify([...spans])).toBe(true);
    expect(workers.filter((worker) => batches(worker.lines).some((b) => b.events! > 0)).length).toBeGreaterThan(1);
  }, 300_000); // only a guard against a hang
});
