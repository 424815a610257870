/**
 * Workers through deploys and ownership changes (issue 10): old and new code side by
 * side, code rolled back after a switch, a worker whose batches outlast its lease, and a
 * worker that lost a partition while it was failing.
 */
import { randomUUID } from 'node:crypto';
import { createEventStore, projectionStatus, runProjections, type EventStore, type ProjectionRunner, type RunProjectionsOptions } from 'annals';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestStore, eventually, testDatabaseUrl } from '../setup/database.js';
import { auditedLikes, auditedState, like, likeMany, type AuditedLikes } from './support/audited-likes.js';

const store: EventStore = await createTestStore('worker_deploys');
const runners: ProjectionRunner[] = [];
afterEach(async () => {
  await Promise.all(runners.splice(0).map((runner) => runner.stop()));
});

function run(on: EventStore, projection: AuditedLikes, options: RunProjectionsOptions = {}): ProjectionRunner {
  const runner = runProjections(on, [projection], { pollIntervalMs: 50, leaseTtlMs: 1000, ...options });
  runners.push(runner);
  return runner;
}

const likes = (projection: AuditedLikes, count: number) => likeMany(store, projection, count);

const generations = (name: string) =>
  store.withTransaction((tx) =>
    tx.query<{ generation: number; version: number; status: string }>(
      `SELECT generation, version, status FROM "${tx.schema}".projection_generations WHERE projection = $1 ORDER BY generation`,
      [name],
    ),
  );

const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

describe('a rolling deploy (old and new code side by side)', () => {
  it('keeps every partition of the live generation owned by the old code while the new code builds its own, then switches', async () => {
    const name = `rolling-${randomUUID().slice(0, 6)}`;
    const v1 = auditedLikes({ name, version: 1, partitions: 2 });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    // The new code's build waits until the test has seen the live read model complete.
    const v2 = auditedLikes({ name, version: 2, partitions: 2, hook: () => held });
    // A failed expectation must not leave the build held: stopping its worker would wait for it.
    setTimeout(release, 30_000).unref();
    await run(store, v1, { workerId: 'old-code' }).ready;
    await likes(v1, 20);
    const errors: string[] = [];
    const logger = { info() {}, warn() {}, error: (_details: object, message: string) => errors.push(message) };
    run(store, v1, { workerId: 'old-code-2', logger });
    await run(store, v2, { workerId: 'new-code' }).ready;
    await likes(v1, 20);
    // Both partitions of the live generation stay owned by old code: all 40 likes show.
    await eventually(async () => expect(total((await auditedState(store, v1)).counts)).toBe(40), 15_000);
    // Old code owns every live partition, new code every build partition; a partition may
    // be between two old workers for a moment (one gives it back when the other joins).
    await eventually(async () => {
      const owners = await store.withTransaction((tx) =>
        tx.query<{ generation: number; owner: string | null }>(
          `SELECT generation, owner FROM "${tx.schema}".consumer_partitions WHERE consumer = $1 ORDER BY generation, partition`,
          [name],
        ),
      );
      expect(owners.filter((row) => row.generation === 1).map((row) => row.owner?.replace(/-2$/, ''))).toEqual(['old-code', 'old-code']);
      expect(owners.filter((row) => row.generation === 2).map((row) => row.owner)).toEqual(['new-code', 'new-code']);
    }, 15_000);

    release();
    await eventually(async () => expect((await generations(name)).find((g) => g.status === 'live')?.version).toBe(2), 15_000);
    await likes(v1, 5);
    await eventually(async () => {
      const state = await auditedState(store, v2);
      expect(total(state.counts)).toBe(45);
      expect(state.applied).toBe(45);
    }, 15_000);
    // The old code, still running, now has nothing to process: said in its log and in status.
    await eventually(() => Promise.resolve(expect(errors.some((message) => message.startsWith('projection idle: the projection is at version 2'))).toBe(true)));
    const status = await projectionStatus(store, [v2]);
    expect(status.projections[0]?.idleWorkers.map((w) => w.workerId).sort()).toEqual(['old-code', 'old-code-2']);
  });
});

describe('a worker whose definition no retry can cure', () => {
  it('rejects ready with the ValidationError (partitions changed at the same version) instead of retrying', async () => {
    const name = `repartitioned-${randomUUID().slice(0, 6)}`;
    await run(store, auditedLikes({ name, partitions: 1 })).ready;
    const runner = run(store, auditedLikes({ name, partitions: 2 }));
    await expect(runner.ready).rejects.toMatchObject({ code: 'ANNALS_VALIDATION', issues: [expect.objectContaining({ field: 'partitions' })] });
  });
});

describe('a worker whose batches outlast its lease', () => {
  it('keeps processing its partitions when its membership round waits for a connection', async () => {
    const projection = auditedLikes({ name: `starved-${randomUUID().slice(0, 6)}`, partitions: 4, hook: async (_event, context) => void (await context.query('SELECT pg_sleep(0.02)')) });
    // As many connections as partitions: long replay batches hold all of them, and the
    // round that renews the leases waits longer than the lease.
    const small = createEventStore({ connectionString: testDatabaseUrl, maxConnections: 4 }, { schema: store.schema });
    try {
      await likes(projection, 480);
      await run(small, projection, { leaseTtlMs: 300 }).ready;
      await likes(projection, 48);
      await eventually(async () => {
        const state = await auditedState(store, projection);
        expect(state.applied).toBe(528);
        expect(state.deadLetters).toBe(0);
      }, 40_000);
    } finally {
      await Promise.all(runners.splice(0).map((runner) => runner.stop()));
      await small.close();
    }
  });
});

describe('a worker that lost its partition while a handler was failing', () => {
  it('does not stop the partition that another worker now owns', async () => {
    const poison = randomUUID();
    let calls = 0;
    let stolen!: () => void;
    const steal = new Promise<void>((resolve) => (stolen = resolve));
    const projection = auditedLikes({
      name: `fence-${randomUUID().slice(0, 6)}`,
      hook: async (event) => {
        if (event.data.postId !== poison) return;
        // The second call is the event alone, retried: another worker takes the partition
        // over meanwhile (its lease lapsed during a pause, say), then the handler fails.
        if (++calls === 2) {
          await store.withTransaction((tx) =>
            tx.query(
              `UPDATE "${tx.schema}".consumer_partitions SET owner = 'other-worker', lease_expires_at = now() + interval '1 hour'
                WHERE consumer = $1`,
              [projection.name],
            ),
          );
          stolen();
        }
        throw new Error('poison');
      },
    });
    await like(store, projection, poison);
    run(store, projection, { retries: { attempts: 1 }, onFailure: 'stop' });
    await steal;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const partitions = await store.withTransaction((tx) =>
      tx.query<{ owner: string | null; stopped_error: string | null }>(
        `SELECT owner, stopped_error FROM "${tx.schema}".consumer_partitions WHERE consumer = $1`,
        [projection.name],
      ),
    );
    expect(partitions).toEqual([{ owner: 'other-worker', stopped_error: null }]);
  });
});
