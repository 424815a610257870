import type { EventStore } from 'annals';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestStore, eventually, testDatabaseUrl } from '../../setup/database.js';
import { foldOfLog, likesFor, partitionsOf, readModel, readSchema } from '../support/read-model.js';
import { killAllWorkers, startWorker, terminate } from '../support/running-worker.js';
import { batches } from '../support/worker-lines.js';

// At the top level, not in beforeAll: createTestStore registers the hooks that close the
// store and drop the schema, and hooks registered while another hook runs never run.
const store: EventStore = await createTestStore('proj_rebuild');
afterEach(() => killAllWorkers());

interface Read {
  startedAt: number;
  endedAt: number;
  /** old: every count is the buggy one (twice the fold); new: every count is the fold. */
  kind: 'old' | 'new' | 'mixed' | 'incomplete' | 'error';
  detail?: string;
}

describe('a buggy projection fixed and bumped to version 2, rebuilt while readers read', () => {
  // Catches: readers switched to the new generation before it has caught up (a read with
  // new-style counts that are too low: 'mixed' or 'incomplete'); views replaced in more
  // than one transaction, or dropped before their replacement exists (a read that errors
  // or sees a table missing); the old tables dropped under the views still pointing at
  // them (an error); a switch that goes back (an old read after a new one); the rebuild
  // never switching (no new read), or writing into the live generation (reads of values
  // that are neither the old nor the new ones).
  it('serves the old values, never an error or a mix, until one switch, and the fixed values after it', async () => {
    const category = 'rebuild';
    const name = 'rebuild-fix';
    for (const { streamId, events } of likesFor(category, 30, 1500)) await store.appendToStream(streamId, events);
    const log = await foldOfLog(store, category);
    const posts = Object.keys(log.counts);
    expect(posts).toHaveLength(30);
    expect(Object.values(log.counts).every((count) => count > 0)).toBe(true);

    // Version 1 counts every like twice: the bug. Its read model is complete before the fix ships.
    const buggy = startWorker(testDatabaseUrl, store.schema, { name, category, version: 1, likeWeight: 2, pollIntervalMs: 50, workerId: 'v1' });
    await eventually(async () => expect((await readModel(store, name)).applied).toHaveLength(log.eventIds.length), 120_000);
    expect((await readModel(store, name)).counts).toEqual(Object.fromEntries(posts.map((post) => [post, 2 * log.counts[post]!])));

    // A reader of the live views, in a loop, on a connection of its own (plain queries,
    // nothing prepared), from before the fixed version starts until after the switch.
    const views = readSchema(store.schema, name);
    const reader = new pg.Client({ connectionString: testDatabaseUrl });
    await reader.connect();
    const reads: Read[] = [];
    let reading = true;
    const readLoop = (async () => {
      while (reading) {
        const startedAt = Date.now();
        try {
          const { rows } = await reader.query<{ post_id: string; likes: number }>(`SELECT post_id, likes FROM "${views}".like_counts`);
          reads.push({ startedAt, endedAt: Date.now(), ...classify(rows) });
        } catch (error) {
          reads.push({ startedAt, endedAt: Date.now(), kind: 'error', detail: String(error) });
        }
      }
    })();
    function classify(rows: { post_id: string; likes: number }[]): Pick<Read, 'kind' | 'detail'> {
      if (rows.length !== posts.length) return { kind: 'incomplete', detail: `${rows.length} rows` };
      const old = rows.every((row) => row.likes === 2 * log.counts[row.post_id]!);
      const fixed = rows.every((row) => row.likes === log.counts[row.post_id]!);
      return old ? { kind: 'old' } : fixed ? { kind: 'new' } : { kind: 'mixed', detail: JSON.stringify(rows) };
    }

    // The reader has read the old values before the fix starts (so the first read is not
    // left to how fast each side starts).
    await eventually(async () => expect(reads.length).toBeGreaterThan(0));

    // The fix, deployed next to the old code: it rebuilds generation 2 by replay, in small
    // batches so that the rebuild takes a while, and switches the views when caught up.
    const fixed = startWorker(testDatabaseUrl, store.schema, { name, category, version: 2, replayBatchSize: 25, pollIntervalMs: 50, workerId: 'v2' });
    await fixed.waitFor((lines) => lines.some((line) => line.message === 'rebuild caught up: readers switched to it'), 180_000);
    const switchedAt = fixed.lines.find((line) => line.message === 'rebuild caught up: readers switched to it')!.at;
    // Reads after the switch: a few that started after it was reported, however slow the machine.
    await eventually(async () => expect(reads.filter((read) => read.startedAt > switchedAt).length).toBeGreaterThanOrEqual(5), 60_000);
    reading = false;
    await readLoop;
    await reader.end();

    // Never an error or a mix, and one switch: old reads, then new ones.
    expect(reads.filter((read) => read.kind !== 'old' && read.kind !== 'new')).toEqual([]);
    const firstNew = reads.findIndex((read) => read.kind === 'new');
    expect(firstNew).toBeGreaterThan(0);
    expect(reads.slice(firstNew).every((read) => read.kind === 'new')).toBe(true);
    // Old values while the rebuild was under way: reads from its first replay batch to
    // its last, which the worker reports after it commits and before it switches (the
    // report of the switch itself comes after its commit, so it cannot bound this).
    const replayed = batches(fixed.lines).filter((b) => b.replaying);
    expect(replayed.filter((b) => b.events! > 0).length).toBeGreaterThan(5);
    const duringRebuild = reads.filter((read) => read.startedAt > replayed[0]!.at && read.endedAt < replayed.at(-1)!.at);
    expect(duringRebuild.length).toBeGreaterThan(0);
    expect(duringRebuild.every((read) => read.kind === 'old')).toBe(true);
    // …and the fixed ones for every read that started after the switch was reported.
    const afterSwitch = reads.filter((read) => read.startedAt > switchedAt);
    expect(afterSwitch.length).toBeGreaterThan(0);
    expect(afterSwitch.every((read) => read.kind === 'new')).toBe(true);

    expect((await partitionsOf(store, name)).map((row) => [row.generation, row.version, row.status])).toEqual([
      [1, 1, 'retired'],
      [2, 2, 'live'],
    ]);
    const exits = await Promise.all([terminate(buggy), terminate(fixed)]);
    expect(exits.map(({ code }) => code)).toEqual([0, 0]);
    const model = await readModel(store, name);
    expect(model.counts).toEqual(log.counts);
    expect(model.applied.filter((event) => event.times !== 1)).toEqual([]);
    expect(model.applied).toHaveLength(log.eventIds.length);
  }, 360_000); // only a guard against a hang: the rebuild is slow on a loaded machine
});
