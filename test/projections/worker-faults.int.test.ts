/**
 * Database faults at each stage of a worker's life (issue 10): the database becomes
 * unreachable (a TCP proxy drops every connection and refuses new ones) while it reads,
 * applies, moves the checkpoint, waits to retry, dead-letters, stops a partition, renews
 * leases, or starts. No fault may escape as an unhandled rejection (which would end a
 * service's process), and once the database is back every event is applied exactly once.
 */
import { randomUUID } from 'node:crypto';
import { createEventStore, runProjections, type EventStore, type ProjectionRunner, type RunProjectionsOptions } from 'annals';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestStore, eventually, testDatabaseUrl } from '../setup/database.js';
import { startTcpProxy, type TcpProxy } from '../setup/tcp-proxy.js';
import { auditedLikes, auditedState, like, likeMany, type AuditedLikes } from './support/audited-likes.js';

const store: EventStore = await createTestStore('worker_faults');
let proxy: TcpProxy;
let proxied: EventStore;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  proxy = await startTcpProxy(testDatabaseUrl);
  proxied = createEventStore({ connectionString: proxy.url, maxConnections: 10 }, { schema: store.schema });
  process.on('unhandledRejection', onUnhandled);
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await proxied.close();
  await proxy.close();
});

const runners: ProjectionRunner[] = [];
afterEach(async () => {
  proxy.restore();
  await Promise.all(runners.splice(0).map((runner) => runner.stop()));
  expect(unhandled).toEqual([]);
});

const fast: RunProjectionsOptions = { pollIntervalMs: 50, leaseTtlMs: 1000, retries: { attempts: 5, minDelayMs: 50, maxDelayMs: 200 } };

function run(projection: AuditedLikes, options: RunProjectionsOptions = {}): ProjectionRunner {
  const runner = runProjections(proxied, [projection], { ...fast, ...options });
  runners.push(runner);
  return runner;
}

const likes = (projection: AuditedLikes, count: number) => likeMany(store, projection, count);

/**
 * A projection whose handler always fails on `poison`'s likes; its first failure takes the
 * database away for 1.5 s. The batch fails, then the event alone (attempts: 1) fails at
 * once and goes straight to the dead letter or the stop, which meets the outage.
 */
function poisonedBy(poison: string, name: string): AuditedLikes {
  let cut = false;
  return auditedLikes({
    name: `${name}-${randomUUID().slice(0, 6)}`,
    hook: async (event) => {
      if (event.data.postId !== poison) return;
      if (!cut) {
        cut = true;
        setTimeout(() => proxy.cut(1500), 0);
      }
      throw new Error('poison');
    },
  });
}

const allOnce = (posts: readonly string[]) => Object.fromEntries(posts.map((post) => [post, 1]));

describe('a projection worker when its database goes away', () => {
  it('survives an outage during a handler retry backoff, and applies the event after it', async () => {
    const failing = randomUUID();
    let failures = 0;
    const projection = auditedLikes({
      name: `retry-${randomUUID().slice(0, 6)}`,
      hook: async (event) => {
        if (event.data.postId !== failing) return;
        failures++;
        // The batch fails, then the event alone fails once more: the database goes away
        // while the worker waits to retry it, so the retry meets the outage.
        if (failures === 2) setTimeout(() => proxy.cut(2000), 20);
        if (failures <= 2) throw new Error('fails twice');
      },
    });
    const posts = await likes(projection, 3);
    await like(store, projection, failing);
    posts.push(failing, ...(await likes(projection, 3)));
    await run(projection, { retries: { attempts: 5, minDelayMs: 300, maxDelayMs: 300 } }).ready;
    await eventually(async () => {
      const state = await auditedState(store, projection);
      expect(state.counts).toEqual(allOnce(posts));
      expect(state.deadLetters).toBe(0);
      expect(state.stopped).toEqual([]);
    }, 20_000);
    expect(failures).toBeGreaterThanOrEqual(3);
  });

  it('dead-letters the failing event exactly once when the outage hits the dead letter', async () => {
    const poison = randomUUID();
    const projection = poisonedBy(poison, 'dead');
    const before = await likes(projection, 3);
    await like(store, projection, poison);
    const after = await likes(projection, 3);
    await run(projection, { retries: { attempts: 1 } }).ready;
    await eventually(async () => {
      const state = await auditedState(store, projection);
      expect(state.counts).toEqual(allOnce([...before, ...after]));
      expect(state.deadLetters).toBe(1);
      expect(state.stopped).toEqual([]);
    }, 20_000);
  });

  it('stops the partition once the database is back when the outage hits the stop', async () => {
    const poison = randomUUID();
    const projection = poisonedBy(poison, 'stop');
    const before = await likes(projection, 3);
    await like(store, projection, poison);
    await likes(projection, 2);
    await run(projection, { retries: { attempts: 1 }, onFailure: 'stop' }).ready;
    await eventually(async () => {
      const state = await auditedState(store, projection);
      expect(state.counts).toEqual(allOnce(before));
      expect(state.stopped).toEqual(['Error: poison']);
      expect(state.deadLetters).toBe(0);
    }, 20_000);
  });

  it('keeps its partitions through an outage longer than the lease, then processes what came meanwhile', async () => {
    const projection = auditedLikes({ name: `lease-${randomUUID().slice(0, 6)}` });
    const posts = await likes(projection, 2);
    await run(projection).ready;
    await eventually(async () => expect((await auditedState(store, projection)).counts).toEqual(allOnce(posts)));
    proxy.cut(2500); // two and a half leases: renewals and membership rounds fail meanwhile
    posts.push(...(await likes(projection, 3)));
    await new Promise((resolve) => setTimeout(resolve, 2600));
    posts.push(...(await likes(projection, 2)));
    await eventually(async () => {
      const state = await auditedState(store, projection);
      expect(state.counts).toEqual(allOnce(posts));
      expect(state.applied).toBe(posts.length);
    }, 20_000);
  });

  it('applies every event exactly once through outages at random moments (read, apply, fence, commit)', async () => {
    const projection = auditedLikes({
      name: `chaos-${randomUUID().slice(0, 6)}`,
      partitions: 3,
      // Slow enough that outages land inside batches too.
      hook: () => new Promise((resolve) => setTimeout(resolve, Math.random() < 0.05 ? 20 : 0)),
    });
    const posts = await likes(projection, 60);
    run(projection, { batchSize: 7 });
    run(projection, { batchSize: 7 });
    for (let round = 0; round < 12; round++) {
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 300));
      proxy.cut(50 + Math.random() * 500);
      posts.push(...(await likes(projection, 10)));
    }
    await eventually(async () => {
      const state = await auditedState(store, projection);
      expect(state.counts).toEqual(allOnce(posts));
      expect(state.applied).toBe(posts.length);
      expect(state.deadLetters).toBe(0);
    }, 30_000);
  });

  it('starts while the database is down and recovers when it comes back', async () => {
    const projection = auditedLikes({ name: `boot-${randomUUID().slice(0, 6)}` });
    const posts = await likes(projection, 3);
    proxy.cut();
    const runner = run(projection);
    let ready = false;
    void runner.ready.then(() => (ready = true));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(ready).toBe(false);
    proxy.restore();
    await runner.ready;
    posts.push(...(await likes(projection, 2)));
    await eventually(async () => expect((await auditedState(store, projection)).counts).toEqual(allOnce(posts)), 20_000);
  });
});

describe('transient database errors inside a handler', () => {
  it('are retried as faults of the database, not counted against the event (never dead-lettered)', async () => {
    const lockTable = `"${store.schema}".lock_me_${randomUUID().slice(0, 6)}`;
    await store.withTransaction((tx) => tx.query(`CREATE TABLE ${lockTable} (id int)`));
    const holder = new pg.Client({ connectionString: testDatabaseUrl });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query(`LOCK TABLE ${lockTable} IN ACCESS EXCLUSIVE MODE`);
    const warnings: string[] = [];
    const projection = auditedLikes({
      name: `transient-${randomUUID().slice(0, 6)}`,
      // lock_timeout raises 55P03 while the test holds the table: what a handler meets
      // when another partition's transaction holds a row it needs.
      hook: async (_event, context) => {
        await context.query(`SET LOCAL lock_timeout = '50ms'`);
        await context.query(`LOCK TABLE ${lockTable} IN ROW EXCLUSIVE MODE`);
      },
    });
    const posts = await likes(projection, 2);
    try {
      run(projection, {
        retries: { attempts: 1 },
        logger: { info() {}, error() {}, warn: (details: object) => warnings.push(String((details as { err?: { code?: string } }).err?.code)) },
      });
      await eventually(() => Promise.resolve(expect(warnings.filter((code) => code === '55P03').length).toBeGreaterThan(2)));
      expect((await auditedState(store, projection)).deadLetters).toBe(0);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    await eventually(async () => {
      const state = await auditedState(store, projection);
      expect(state.counts).toEqual(allOnce(posts));
      expect(state.deadLetters).toBe(0);
    });
  });
});
