import type { EventStore } from 'annals';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestStore, eventually, testDatabaseUrl } from '../../setup/database.js';
import { foldOfLog, readModel } from '../support/read-model.js';
import { killAllWorkers, startWorker, terminate } from '../support/running-worker.js';
import { batches } from '../support/worker-lines.js';

// At the top level, not in beforeAll: createTestStore registers the hooks that close the
// store and drop the schema, and hooks registered while another hook runs never run.
const store: EventStore = await createTestStore('proj_gaps');
afterEach(() => killAllWorkers());

class Rollback extends Error {}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a projection worker catching up while writers keep appending', () => {
  // Catches the gap case: global positions are taken when a transaction appends, but
  // transactions commit in another order, so a reader can see position 12 while 11 is
  // still uncommitted. A worker that moved its checkpoint to 12 would never apply 11 (a
  // missing id, wrong counts). Also catches a worker that applied events of transactions
  // that later rolled back (ids that are not in the log), or applied one twice.
  it('ends with the read model equal to the fold of the committed events, with rollbacks and out-of-order commits', async () => {
    const category = 'gaps';
    const name = 'gaps';
    const worker = startWorker(testDatabaseUrl, store.schema, { name, category, pollIntervalMs: 50, batchSize: 50, workerId: 'gaps' });
    await worker.waitFor((lines) => lines.some((line) => line.kind === 'ready'), 90_000);

    const committed: string[] = [];
    const rolledBack: string[] = [];
    let failed = 0;
    const until = Date.now() + 5000;
    const writer = async (w: number) => {
      for (let i = 0; Date.now() < until; i++) {
        const ids: string[] = [];
        const appendSome = async (tx: Parameters<Parameters<EventStore['withTransaction']>[0]>[0]) => {
          const post = `p${Math.floor(Math.random() * 12)}`;
          const count = 1 + Math.floor(Math.random() * 3);
          const events = Array.from({ length: count }, (_, k) => {
            const id = crypto.randomUUID();
            ids.push(id);
            return Math.random() < 0.2
              ? { id, type: 'LikeRemoved', data: { postId: post, userId: `w${w}-${i}-${k}` } }
              : { id, type: 'LikeCreated', data: { postId: post, userId: `w${w}-${i}-${k}` }, schemaVersion: 2 };
          });
          await tx.appendToStream(`${category}-${post}`, events);
        };
        try {
          await store.withTransaction(async (tx) => {
            await appendSome(tx);
            // Held open a random while after taking positions: commits come out of order.
            await sleep(Math.random() * 80);
            if (Math.random() < 0.3) await appendSome(tx);
            if (Math.random() < 0.2) throw new Rollback();
          });
          committed.push(...ids);
        } catch (error) {
          // A deadlock between two writers' stream locks rolls back as well.
          if (!(error instanceof Rollback)) failed++;
          rolledBack.push(...ids);
        }
      }
    };
    const writers = Promise.all(Array.from({ length: 10 }, (_, w) => writer(w)));
    await writers;
    const writersDone = Date.now();
    // The worker made progress while the writers were at it, not only once they stopped.
    expect(batches(worker.lines).filter((b) => b.events! > 0 && b.at < writersDone).length, worker.output()).toBeGreaterThan(0);

    const log = await foldOfLog(store, category);
    expect([...committed].sort()).toEqual(log.eventIds);
    expect(rolledBack.length).toBeGreaterThan(0);
    await eventually(async () => expect((await readModel(store, name)).applied.length).toBe(log.eventIds.length), 120_000);
    expect(await terminate(worker)).toMatchObject({ code: 0, signal: null });

    const model = await readModel(store, name);
    expect(model.applied.map((event) => event.event_id).sort()).toEqual(log.eventIds);
    expect(model.applied.filter((event) => event.times !== 1)).toEqual([]);
    expect(model.counts).toEqual(log.counts);
    const rolledBackSet = new Set(rolledBack);
    expect(model.applied.filter((event) => rolledBackSet.has(event.event_id))).toEqual([]);
    expect(failed, 'writer transactions that failed other than by the rollback asked for').toBeLessThan(committed.length);
  }, 240_000); // only a guard against a hang: start-up is slow on a loaded machine
});
