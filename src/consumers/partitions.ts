import { sql, type Kysely } from 'kysely';
import type { EventStoreTransaction } from '../event-store/event-store.js';
import type { ConsumerTables } from './consumer-tables.js';
import { recordDeadLetter, type DeadLetterRecord } from './dead-letters.js';

/**
 * Every statement on the consumers' partitions and workers: leases, membership,
 * checkpoints (the fence), retries, stops, what status reports, and the rebuild switch's
 * locks and drain (the dead-letter table's own statements are in dead-letters.ts). One
 * place, so that every statement that changes a partition row is fenced the same way: by
 * owner, and where it moves the checkpoint, by the position the work started from (or,
 * for the switch, by the row locks it holds).
 */

/** One partition of one generation of a consumer: what a worker leases and processes. */
export interface ConsumerUnitKey {
  consumer: string;
  generation: number;
  partition: number;
}

/** The fence of a write: the owner, and the checkpoint the work started from. */
export interface Fence {
  workerId: string;
  from: bigint;
}

const tables = (tx: EventStoreTransaction) => (tx.db as Kysely<ConsumerTables>).withSchema(tx.schema);
const expiry = (ttlMs: number) => sql<Date>`now() + make_interval(secs => ${ttlMs}::double precision / 1000)`;
const now = sql<Date>`now()`;
const same = (key: ConsumerUnitKey) => ({ consumer: key.consumer, generation: key.generation, partition: key.partition });

/**
 * Creates the rows of a generation's partitions, their checkpoints at `position`, unless
 * it has some already. Returns how many
 * partitions the generation has: the caller refuses a count that changed, which would
 * move keys between partitions with their checkpoints behind.
 */
export async function ensurePartitions(
  tx: EventStoreTransaction,
  key: { consumer: string; generation: number; partitions: number; position: bigint },
): Promise<number> {
  // Counted before anything is inserted: rows added for a larger count would make the
  // count look right, and the new partitions would take keys whose events were handled.
  const [row] = await tables(tx)
    .selectFrom('consumer_partitions')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('consumer', '=', key.consumer)
    .where('generation', '=', key.generation)
    .execute();
  const existing = Number(row?.count ?? 0);
  if (existing > 0) return existing;
  const position = key.position.toString();
  const rows = Array.from({ length: key.partitions }, (_, partition) => ({ consumer: key.consumer, generation: key.generation, partition, position }));
  await tables(tx).insertInto('consumer_partitions').values(rows).onConflict((oc) => oc.doNothing()).execute();
  return key.partitions;
}

/** Whether any partition of `consumer` exists (of any generation). */
export async function hasPartitions(tx: EventStoreTransaction, consumer: string): Promise<boolean> {
  const row = await tables(tx).selectFrom('consumer_partitions').select('partition').where('consumer', '=', consumer).limit(1).executeTakeFirst();
  return row !== undefined;
}

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

export interface PartitionState {
  /** The checkpoint. */
  position: bigint;
  /** This worker owns the partition. */
  mine: boolean;
  stopped: boolean;
}

export async function readPartition(tx: EventStoreTransaction, key: ConsumerUnitKey, workerId: string): Promise<PartitionState | undefined> {
  const row = await tables(tx)
    .selectFrom('consumer_partitions')
    .select(['position', 'owner', 'stopped_error'])
    .where((eb) => eb.and(same(key)))
    .executeTakeFirst();
  return row && { position: BigInt(row.position), mine: row.owner === workerId, stopped: row.stopped_error !== null };
}

/**
 * Moves the checkpoint from `from` to `to`: the fence. It matches only while this worker
 * owns the partition and the checkpoint is still where the batch started, so work done
 * by a worker that lost the partition (paused, partitioned away) rolls back. It also
 * extends the lease: a worker busy with long batches keeps what it is processing even
 * when its membership round waits for a connection.
 */
export async function moveCheckpoint(
  tx: EventStoreTransaction,
  key: ConsumerUnitKey,
  update: Fence & { ttlMs: number; to: bigint; events: number; caughtUp: boolean; throughput: number },
): Promise<boolean> {
  const rows = await tables(tx)
    .updateTable('consumer_partitions')
    .set({
      position: update.to.toString(),
      events_processed: sql<string>`events_processed + ${update.events}`,
      caught_up: update.caughtUp,
      throughput: update.throughput,
      heartbeat_at: now,
      updated_at: now,
      lease_expires_at: sql<Date>`greatest(lease_expires_at, ${expiry(update.ttlMs)})`,
    })
    .where((eb) => eb.and({ ...same(key), owner: update.workerId, position: update.from.toString() }))
    .returning('partition')
    .execute();
  return rows.length > 0;
}

export async function countRetry(tx: EventStoreTransaction, key: ConsumerUnitKey, workerId: string): Promise<void> {
  await tables(tx)
    .updateTable('consumer_partitions')
    .set({ retries: sql<string>`retries + 1`, updated_at: now })
    .where((eb) => eb.and({ ...same(key), owner: workerId }))
    .execute();
}

/**
 * Stops the partition (onFailure: 'stop'), fenced like a checkpoint move: a worker that
 * lost the partition, or whose failed batch another owner has since got past, stops
 * nothing. Returns whether it stopped it.
 */
export async function stopPartition(tx: EventStoreTransaction, key: ConsumerUnitKey, fence: Fence, reason: string): Promise<boolean> {
  const rows = await tables(tx)
    .updateTable('consumer_partitions')
    .set({ stopped_error: reason, owner: null, lease_expires_at: null, updated_at: now })
    .where((eb) => eb.and({ ...same(key), owner: fence.workerId, position: fence.from.toString() }))
    .returning('partition')
    .execute();
  return rows.length > 0;
}

/** Records a dead letter and moves the checkpoint past it, together; fenced like moveCheckpoint. */
export async function deadLetter(tx: EventStoreTransaction, key: ConsumerUnitKey, fence: Fence, event: DeadLetterRecord): Promise<boolean> {
  const moved = await tables(tx)
    .updateTable('consumer_partitions')
    .set({ position: event.globalPosition.toString(), dead_lettered: sql<string>`dead_lettered + 1`, updated_at: now })
    .where((eb) => eb.and({ ...same(key), owner: fence.workerId, position: fence.from.toString() }))
    .returning('partition')
    .execute();
  if (moved.length === 0) return false;
  await recordDeadLetter(tx, key, event);
  return true;
}

/** One generation of a consumer: the rows of all its partitions. */
export interface ConsumerGenerationKey {
  consumer: string;
  generation: number;
}

export interface PartitionCheckpoint {
  partition: number;
  position: bigint;
  caughtUp: boolean;
}

/**
 * A generation's checkpoints, in partition order, row-locked when `lock` says so (a
 * rebuild's switch): `update` fences the build's batches (one that commits first is
 * seen, one that commits later finds its checkpoint moved), `share` holds the live
 * generation's workers' fences until the switch commits, so the live checkpoints cannot
 * move past what the drain reads.
 */
export async function readCheckpoints(
  tx: EventStoreTransaction,
  key: ConsumerGenerationKey,
  lock?: 'update' | 'share',
): Promise<PartitionCheckpoint[]> {
  const rows = await tables(tx)
    .selectFrom('consumer_partitions')
    .select(['partition', 'position', 'caught_up'])
    .where('consumer', '=', key.consumer)
    .where('generation', '=', key.generation)
    .orderBy('partition')
    .$if(lock === 'update', (q) => q.forUpdate())
    .$if(lock === 'share', (q) => q.forShare())
    .execute();
  return rows.map((row) => ({ partition: row.partition, position: BigInt(row.position), caughtUp: row.caught_up }));
}

/**
 * Moves every checkpoint of a generation up to `to` (never back): the end of a rebuild's
 * drain. Not fenced by owner: the switch holds the rows locked (readCheckpoints with
 * `update`), so a batch in flight finds its checkpoint moved and rolls back.
 */
export async function advanceCheckpoints(tx: EventStoreTransaction, key: ConsumerGenerationKey, to: bigint): Promise<void> {
  await tables(tx)
    .updateTable('consumer_partitions')
    .set({ position: sql<string>`greatest(position, ${to.toString()}::bigint)`, updated_at: now })
    .where('consumer', '=', key.consumer)
    .where('generation', '=', key.generation)
    .execute();
}

/** Lets the stopped partitions of a consumer run again; returns how many there were. */
export async function resumePartitions(tx: EventStoreTransaction, consumer: string): Promise<number> {
  const rows = await tables(tx)
    .updateTable('consumer_partitions')
    .set({ stopped_error: null, updated_at: now })
    .where('consumer', '=', consumer)
    .where('stopped_error', 'is not', null)
    .returning('partition')
    .execute();
  return rows.length;
}

/** A partition as status reports it. */
export interface PartitionReport {
  consumer: string;
  generation: number;
  partition: number;
  /** The checkpoint. */
  position: bigint;
  owner: string | null;
  heartbeatAt: Date | null;
  leaseExpiresAt: Date | null;
  eventsProcessed: number;
  retries: number;
  deadLettered: number;
  throughput: number;
  stoppedError: string | null;
  caughtUp: boolean;
}

/**
 * The partitions of these generations, by consumer, generation and partition, in one
 * statement (one array parameter per column, whatever the number of generations).
 */
export async function readPartitions(tx: EventStoreTransaction, generations: readonly ConsumerGenerationKey[]): Promise<PartitionReport[]> {
  if (generations.length === 0) return [];
  const consumers = generations.map((g) => g.consumer);
  const numbers = generations.map((g) => g.generation);
  const rows = await tables(tx)
    .selectFrom('consumer_partitions')
    .selectAll()
    // A row constructor against unnest: kysely has no IN over pairs of columns.
    .where(sql<boolean>`(consumer, generation) IN (SELECT c, g FROM unnest(${consumers}::text[], ${numbers}::integer[]) AS u(c, g))`)
    .orderBy('consumer')
    .orderBy('generation')
    .orderBy('partition')
    .execute();
  return rows.map((row) => ({
    consumer: row.consumer,
    generation: row.generation,
    partition: row.partition,
    position: BigInt(row.position),
    owner: row.owner,
    heartbeatAt: row.heartbeat_at,
    leaseExpiresAt: row.lease_expires_at,
    eventsProcessed: Number(row.events_processed),
    retries: Number(row.retries),
    deadLettered: Number(row.dead_lettered),
    throughput: row.throughput,
    stoppedError: row.stopped_error,
    caughtUp: row.caught_up,
  }));
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
