import { sql, type Expression, type Selectable } from 'kysely';
import type { EventStoreTransaction } from '../event-store/event-store.js';
import type { ConsumerPartitionsTable } from './consumer-tables.js';
import { consumerTables as tables, leaseExpiry as expiry, now, unitKey as same } from './consumer-tables.js';
import { recordDeadLetter, type DeadLetterRecord } from './dead-letters.js';

/**
 * Every statement on the consumers' partitions but their leases (leases.ts): checkpoints
 * (the fence), retries, stops, what status reports, and the rebuild switch's locks and
 * drain (the dead-letter table's own statements are in dead-letters.ts). Every statement
 * that changes a partition row is fenced the same way: by owner, and where it moves the
 * checkpoint, by the position the work started from (or, for the switch, by the row
 * locks it holds).
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

/** Where one partition of a consumer stands, as status reports it. */
export interface PartitionReport {
  consumer: string;
  generation: number;
  partition: number;
  /** Checkpoint: the global position processed up to. */
  position: bigint;
  /** The checkpoint has reached the head the owner last read (as of its last batch). */
  caughtUp: boolean;
  /** Events per second over the owner's last seconds. */
  throughput: number;
  eventsProcessed: number;
  retries: number;
  deadLettered: number;
  owner: string | null;
  heartbeatAt: Date | null;
  leaseExpiresAt: Date | null;
  /** Why the partition stopped (onFailure: 'stop'), or null. */
  stoppedError: string | null;
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
  return rows.map(toReport);
}

/** Every partition of these consumers, of every generation, by consumer, generation and partition. */
export async function readConsumerPartitions(tx: EventStoreTransaction, consumers: readonly string[]): Promise<PartitionReport[]> {
  if (consumers.length === 0) return [];
  const rows = await tables(tx)
    .selectFrom('consumer_partitions')
    .selectAll()
    .where('consumer', 'in', [...consumers])
    .orderBy('consumer')
    .orderBy('generation')
    .orderBy('partition')
    .execute();
  return rows.map(toReport);
}

function toReport(row: Selectable<ConsumerPartitionsTable>): PartitionReport {
  return {
    consumer: row.consumer,
    generation: row.generation,
    partition: row.partition,
    position: BigInt(row.position),
    caughtUp: row.caught_up,
    throughput: row.throughput,
    eventsProcessed: Number(row.events_processed),
    retries: Number(row.retries),
    deadLettered: Number(row.dead_lettered),
    owner: row.owner,
    heartbeatAt: row.heartbeat_at,
    leaseExpiresAt: row.lease_expires_at,
    stoppedError: row.stopped_error,
  };
}

/**
 * A partition's checkpoint as a subquery, for a statement on another table that must read
 * it in the same snapshot (a projection's generation and its partition, read together).
 * `consumer` and `generation` may be that statement's columns.
 */
export function checkpointOf(
  tx: EventStoreTransaction,
  key: { consumer: Expression<string>; generation: Expression<number>; partition: number },
) {
  return tables(tx)
    .selectFrom('consumer_partitions')
    .select('position')
    .where('consumer', '=', key.consumer)
    .where('generation', '=', key.generation)
    .where('partition', '=', key.partition);
}

/** A generation's lowest checkpoint as a subquery (null without partitions); see checkpointOf. */
export function lowestCheckpoint(tx: EventStoreTransaction, key: { consumer: Expression<string>; generation: Expression<number | null> }) {
  return tables(tx)
    .selectFrom('consumer_partitions')
    .select((eb) => eb.fn.min('position').as('position'))
    .where('consumer', '=', key.consumer)
    .where('generation', '=', key.generation as Expression<number>);
}
