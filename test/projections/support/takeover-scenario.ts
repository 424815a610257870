/**
 * The takeover scenario, shared by crash/takeover-*.int.test.ts: worker processes on one
 * projection while a writer appends; balanced, the owner of partition 0 is killed
 * (SIGKILL), the survivors take its partitions over, and at the end every event was
 * applied exactly once. See the test files for what it catches.
 *
 * Nothing in it depends on which survivor wins a partition or on how fast the machine
 * is: the takeover is bounded in the survivors' membership rounds, seen in their
 * heartbeats on the database's clock, not in milliseconds of a loaded machine.
 */
import type { EventStore } from 'annals';
import { expect } from 'vitest';
import { eventually } from '../../setup/eventually.js';
import { foldOfLog, partitionsOf, readModel } from './read-model.js';
import { disconnected, startWorker, terminate, type RunningWorker } from './running-worker.js';
import { batches } from './worker-lines.js';

// Leases are renewed every third of the TTL, in a round of several transactions: a live
// owner loses its lease only if its rounds are held up for two thirds of it. 4 s leaves
// room for slow rounds on 2 loaded cores; the takeover waits for it once per test.
export const leaseTtlMs = 4000;

// A guard against a hang, not a measure of speed: several processes starting on 2 loaded
// cores can take tens of seconds.
const patienceMs = 90_000;

/** Appends likes and unlikes to `posts` posts of `category`, in transactions of 2 events, until stopped. */
function startWriter(store: EventStore, category: string, posts: number): { stop(): Promise<void> } {
  let stopping = false;
  const running = (async () => {
    for (let i = 0; !stopping; i++) {
      const post = `p${i % posts}`;
      await store.appendToStream(`${category}-${post}`, [
        { type: 'LikeCreated', data: { postId: post, userId: `u${i}` }, schemaVersion: 2 },
        i % 3 === 0 ? { type: 'LikeRemoved', data: { postId: post, userId: `u${i}` } } : { type: 'LikeCreated', data: { postId: post, userId: `v${i}` }, schemaVersion: 2 },
      ]);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  // Its failure (say, the store closed under it) is reported by stop().
  running.catch(() => {});
  return {
    stop: async () => {
      stopping = true;
      await running;
    },
  };
}

/**
 * `processes` workers on one projection of `partitions` partitions while a writer appends:
 * balanced, the owner of partition 0 is killed (SIGKILL), the survivors take its
 * partitions over, and at the end every event was applied exactly once.
 */
export async function takeoverScenario(store: EventStore, databaseUrl: string, { processes, partitions }: { processes: number; partitions: number }): Promise<void> {
  const category = `takeover${processes}x${partitions}`;
  const name = `takeover-${processes}x${partitions}`;
  const workers: RunningWorker[] = [];
  for (let i = 0; i < processes; i++) {
    workers.push(startWorker(databaseUrl, store.schema, { name, category, partitions, leaseTtlMs, pollIntervalMs: 50, batchSize: 20, workerId: `${name}-w${i}` }));
  }
  await Promise.all(workers.map((worker) => worker.waitFor((lines) => lines.some((line) => line.kind === 'ready'), patienceMs)));
  const writer = startWriter(store, category, 16);
  try {
    // Balanced: every partition owned, by as many processes as there is work for.
    const owners = await eventually(async () => {
      const rows = (await partitionsOf(store, name)).filter((row) => row.status === 'live');
      expect(rows).toHaveLength(partitions);
      expect(rows.every((row) => row.owner !== null)).toBe(true);
      expect(new Set(rows.map((row) => row.owner)).size).toBe(Math.min(processes, partitions));
      return rows;
    }, patienceMs);
    // Every owner has committed work before the kill.
    await Promise.all(
      workers.filter((worker) => owners.some((row) => row.owner === worker.workerId)).map((worker) => worker.waitFor((lines) => batches(lines).some((b) => b.events! > 0), patienceMs)),
    );

    // The victim is whichever process the database says owns partition 0.
    const victimId = owners.find((row) => row.partition === 0)!.owner!;
    const victim = workers.find((worker) => worker.workerId === victimId)!;
    const survivors = workers.filter((worker) => worker !== victim);
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    expect(await victim.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // Read once the database has closed its connections: read before the kill, a
    // renewal that committed after the read would have moved the leases on.
    await disconnected(store, victim);
    const dead = await deadOwner(store, name, victimId);
    expect(dead.leases.length).toBeGreaterThan(0);

    // Taken over no later than the first round of a survivor that starts once the dead
    // owner's leases have run out and its heartbeat is older than the TTL (from then on
    // it no longer counts in the survivors' shares, so each has room to claim): that is
    // the promise, "within the TTL plus a round". A round is a few transactions long,
    // the next one starts after it: when a survivor has started two rounds past that
    // point, the first has finished and claimed.
    await roundFinishedAfter(store, survivors, dead.freeAt);
    const rows = (await partitionsOf(store, name)).filter((row) => row.status === 'live');
    const survivorIds = survivors.map((worker) => worker.workerId);
    for (const { partition } of dead.leases) {
      const owner = rows.find((row) => row.partition === partition)?.owner;
      expect(survivorIds, `partition ${partition} not taken over in the first round after its lease ran out (owner ${owner})`).toContain(owner);
    }
    // …and not before the dead owner's lease ran out. Same host, same clock: a claim is
    // printed after it commits, so its time is never earlier than the claim's own.
    for (const { partition, expiresAt } of dead.leases) {
      const claims = survivors.flatMap((worker) => worker.lines.filter((line) => line.message === 'partition claimed' && line.partition === partition && line.at > killedAt));
      expect(claims.length, `partition ${partition}: no claim printed`).toBeGreaterThan(0);
      expect(Math.min(...claims.map((line) => line.at))).toBeGreaterThanOrEqual(expiresAt);
    }

    // The writer goes on a little after the takeover, then stops; the survivors catch up.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await writer.stop();
    const log = await foldOfLog(store, category);
    await eventually(async () => expect((await readModel(store, name)).applied.length).toBe(log.eventIds.length), patienceMs);
    const exits = await Promise.all(survivors.map((worker) => terminate(worker)));
    expect(exits.map(({ code, signal }) => ({ code, signal }))).toEqual(survivors.map(() => ({ code: 0, signal: null })));

    const model = await readModel(store, name);
    expect(model.applied.filter((event) => event.times !== 1)).toEqual([]);
    expect(model.applied.map((event) => event.event_id).sort()).toEqual(log.eventIds);
    expect(model.counts).toEqual(log.counts);
    // No lease was ever taken from a live owner: a worker whose renewal finds its
    // partition gone logs 'lease lost' (giving partitions back to balance does not).
    const lost = workers.flatMap((worker) => worker.lines.filter((line) => line.message === 'lease lost').map((line) => `${worker.settings.workerId}: ${JSON.stringify(line)}`));
    expect(lost).toEqual([]);
    // The dead owner and at least one survivor both committed events.
    const appliers = new Set(model.applied.map((event) => event.worker));
    expect(appliers.has(victimId)).toBe(true);
    expect(survivors.some((worker) => appliers.has(worker.workerId!))).toBe(true);
    // Stopped cleanly: no partition left owned.
    expect((await partitionsOf(store, name)).filter((row) => row.owner !== null)).toEqual([]);
  } finally {
    // Stopped on failure too: a writer left running would append to a closed store.
    await writer.stop().catch(() => {});
  }
}

/**
 * What a dead `owner` left on the database's clock: its leases, each with when it runs out
 * (epoch ms, rounded down), and `freeAt` (epoch µs), when the last has run out and its
 * heartbeat is older than the TTL.
 */
async function deadOwner(store: EventStore, name: string, owner: string): Promise<{ leases: { partition: number; expiresAt: number }[]; freeAt: bigint }> {
  const rows = await store.withTransaction((tx) =>
    tx.query<{ partition: number; expires_at: string; free_at: string }>(
      `SELECT p.partition,
              floor(extract(epoch FROM p.lease_expires_at) * 1000)::bigint::text AS expires_at,
              (extract(epoch FROM greatest(p.lease_expires_at, w.heartbeat_at + make_interval(secs => $3::double precision / 1000))) * 1000000)::bigint::text AS free_at
         FROM "${tx.schema}".consumer_partitions p
         LEFT JOIN "${tx.schema}".consumer_workers w ON w.worker_id = p.owner
        WHERE p.consumer = $1 AND p.owner = $2`,
      [name, owner, leaseTtlMs],
    ),
  );
  return {
    leases: rows.map((row) => ({ partition: row.partition, expiresAt: Number(row.expires_at) })),
    freeAt: rows.map((row) => BigInt(row.free_at)).reduce((a, b) => (a > b ? a : b), 0n),
  };
}

/** Resolves once one of `workers` has finished a membership round that started after `after` (epoch µs). */
async function roundFinishedAfter(store: EventStore, workers: readonly RunningWorker[], after: bigint): Promise<void> {
  // Each round starts by setting the worker's heartbeat_at; rounds run one after another.
  const started = new Map<string, bigint>();
  await eventually(async () => {
    const rows = await store.withTransaction((tx) =>
      tx.query<{ worker_id: string; at: string }>(
        `SELECT worker_id, (extract(epoch FROM heartbeat_at) * 1000000)::bigint::text AS at
           FROM "${tx.schema}".consumer_workers WHERE worker_id = ANY($1)`,
        [workers.map((worker) => worker.workerId)],
      ),
    );
    for (const row of rows) {
      const at = BigInt(row.at);
      const first = started.get(row.worker_id);
      if (first !== undefined && at > first) return;
      if (first === undefined && at > after) started.set(row.worker_id, at);
    }
    throw new Error(`no survivor has finished a membership round started after ${after} µs (survivors' rounds: ${JSON.stringify(rows)})`);
  }, patienceMs);
}
