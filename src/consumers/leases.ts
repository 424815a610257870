import { sql } from 'kysely';
import type { EventStoreTransaction } from '../event-store/event-store.js';
import { consumerTables as tables, leaseExpiry as expiry, now, unitKey as same } from './consumer-tables.js';
import type { ConsumerUnitKey } from './partitions.js';

/**
 * Every statement on the consumers' workers and on who owns a partition: membership
 * (a worker's row and heartbeat), the fair share's counts, claiming, renewing and
 * releasing leases. A lease is the `owner` and `lease_expires_at` of a partition row;
 * partitions.ts fences every write of the row by that owner.
 */

/** Registers (or heartbeats) a worker and the version of each consumer it runs. */
export async function registerWorker(
  tx: EventStoreTransaction,
  worker: { workerId: string; consumers: readonly { name: string; version: number }[]; host: string },
): Promise<void> {
  const versions = JSON.stringify(Object.fromEntries(worker.consumers.map((c) => [c.name, c.version])));
  await tables(tx)
    .insertInto('consumer_workers')
    .values({ worker_id: worker.workerId, consumers: worker.consumers.map((c) => c.name), versions, host: worker.host, pid: process.pid })
    .onConflict((oc) =>
      oc.column('worker_id').doUpdateSet((eb) => ({ heartbeat_at: now, consumers: eb.ref('excluded.consumers'), versions: eb.ref('excluded.versions') })),
    )
    .execute();
}

export async function deregisterWorker(tx: EventStoreTransaction, workerId: string): Promise<void> {
  await tables(tx).deleteFrom('consumer_workers').where('worker_id', '=', workerId).execute();
}

/**
 * Renews every lease this worker holds, lapsed or not: a lapsed lease that no other
 * worker claimed meanwhile is still this worker's (a claim changes the owner, and every
 * write of a partition is fenced by owner), so renewing it is safe and spares a running
 * batch a needless loss of ownership. Rows another transaction has locked (a switch
 * waiting to swap views, say) are skipped, not waited for: one stuck consumer must not
 * stop the renewal of the others. They are returned as held all the same (the owner
 * column, as of this statement, says they are), and renewed on a later round.
 */
export async function renewLeases(tx: EventStoreTransaction, workerId: string, ttlMs: number): Promise<ConsumerUnitKey[]> {
  return tables(tx)
    .with('lockable', (db) =>
      db.selectFrom('consumer_partitions').select(['consumer', 'generation', 'partition']).where('owner', '=', workerId).forUpdate().skipLocked(),
    )
    .with('renewed', (db) =>
      db
        .updateTable('consumer_partitions as p')
        .from('lockable as l')
        .set({ lease_expires_at: expiry(ttlMs), heartbeat_at: now })
        .whereRef('p.consumer', '=', 'l.consumer')
        .whereRef('p.generation', '=', 'l.generation')
        .whereRef('p.partition', '=', 'l.partition')
        .where('p.owner', '=', workerId)
        .returning('p.partition'),
    )
    .selectFrom('consumer_partitions')
    .select(['consumer', 'generation', 'partition'])
    .where('owner', '=', workerId)
    .execute();
}

/**
 * How many partitions of `generations` can be processed (not stopped), and how many live
 * workers run this consumer at this version: the fair share is computed per version, so
 * during a rolling deploy old and new code each cover their own generations.
 */
export async function shareOf(
  tx: EventStoreTransaction,
  consumer: { name: string; version: number; generations: readonly number[] },
  ttlMs: number,
): Promise<{ units: number; workers: number }> {
  const [counts] = await tables(tx)
    .selectNoFrom((eb) => [
      eb
        .selectFrom('consumer_partitions')
        .select(eb.fn.countAll<number>().as('n'))
        .where('consumer', '=', consumer.name)
        .where('generation', '=', sql<number>`ANY(${[...consumer.generations]}::integer[])`)
        .where('stopped_error', 'is', null)
        .as('units'),
      eb
        .selectFrom('consumer_workers')
        .select(eb.fn.countAll<number>().as('n'))
        .where(sql<boolean>`${consumer.name} = ANY(consumers)`)
        .where(sql<boolean>`(versions ->> ${consumer.name})::integer = ${consumer.version}`)
        .where('heartbeat_at', '>', sql<Date>`now() - make_interval(secs => ${ttlMs}::double precision / 1000)`)
        .as('workers'),
    ])
    .execute();
  return { units: Number(counts?.units ?? 0), workers: Math.max(1, Number(counts?.workers ?? 1)) };
}

/**
 * Claims up to `limit` partitions of `generations` that are unowned or whose lease
 * lapsed (another worker's), the earlier generations in the list first.
 */
export async function claimPartitions(
  tx: EventStoreTransaction,
  claim: { consumer: string; generations: readonly number[]; limit: number; workerId: string; ttlMs: number },
): Promise<ConsumerUnitKey[]> {
  const generations = sql<number[]>`${[...claim.generations]}::integer[]`;
  return tables(tx)
    .with('free', (db) =>
      db
        .selectFrom('consumer_partitions')
        .select(['consumer', 'generation', 'partition'])
        .where('consumer', '=', claim.consumer)
        .where(sql<boolean>`generation = ANY(${generations})`)
        .where('stopped_error', 'is', null)
        .where((eb) => eb.or([eb('owner', 'is', null), eb.and([eb('lease_expires_at', '<=', now), eb('owner', '<>', claim.workerId)])]))
        .orderBy(sql`array_position(${generations}, generation)`)
        .orderBy('partition')
        .limit(claim.limit)
        .forUpdate()
        .skipLocked(),
    )
    .updateTable('consumer_partitions as p')
    .from('free')
    .set({ owner: claim.workerId, lease_expires_at: expiry(claim.ttlMs), heartbeat_at: now })
    .whereRef('p.consumer', '=', 'free.consumer')
    .whereRef('p.generation', '=', 'free.generation')
    .whereRef('p.partition', '=', 'free.partition')
    .returning(['p.consumer', 'p.generation', 'p.partition'])
    .execute();
}

export async function releaseLease(tx: EventStoreTransaction, key: ConsumerUnitKey, workerId: string): Promise<void> {
  await tables(tx)
    .updateTable('consumer_partitions')
    .set({ owner: null, lease_expires_at: null, throughput: 0, updated_at: now })
    .where((eb) => eb.and({ ...same(key), owner: workerId }))
    .execute();
}

/**
 * The workers that run `consumer` and heartbeat within `seenWithinMs`, by worker id, with
 * the version of it they run (null for a row that does not say).
 */
export async function workersRunning(
  tx: EventStoreTransaction,
  consumer: string,
  seenWithinMs: number,
): Promise<{ workerId: string; version: number | null }[]> {
  const rows = await tables(tx)
    .selectFrom('consumer_workers')
    .select(['worker_id', sql<number | null>`(versions ->> ${consumer})::integer`.as('version')])
    .where(sql<boolean>`${consumer} = ANY(consumers)`)
    .where('heartbeat_at', '>', sql<Date>`now() - make_interval(secs => ${seenWithinMs}::double precision / 1000)`)
    .orderBy('worker_id')
    .execute();
  return rows.map((row) => ({ workerId: row.worker_id, version: row.version }));
}
