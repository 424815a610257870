import type { EventStoreTransaction } from '../event-store/event-store.js';
import { table } from './generations.js';

/**
 * The SQL of the projection workers' partitions: leases, membership, checkpoints (the
 * fence), retries, dead letters and stops. One place, so that every statement that
 * changes a partition row is fenced the same way: by owner, and where it moves the
 * checkpoint, by the position the work started from.
 */

export interface PartitionKey {
  projection: string;
  generation: number;
  partition: number;
}

export interface HeldPartition extends PartitionKey {
  schemaName: string;
  status: 'live' | 'building' | 'retired';
}

const ttl = (param: string) => `make_interval(secs => ${param}::double precision / 1000)`;

/** Registers (or heartbeats) a worker and the version of each projection it runs. */
export async function registerWorker(
  tx: EventStoreTransaction,
  workerId: string,
  projections: readonly { name: string; version: number }[],
  host: string,
): Promise<void> {
  await tx.query(
    `INSERT INTO ${table(tx.schema, 'consumer_workers')} (worker_id, consumers, versions, host, pid)
     VALUES ($1, $2, $3::jsonb, $4, $5)
     ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = now(), consumers = excluded.consumers, versions = excluded.versions`,
    [workerId, projections.map((p) => p.name), JSON.stringify(Object.fromEntries(projections.map((p) => [p.name, p.version]))), host, process.pid],
  );
}

export async function deregisterWorker(tx: EventStoreTransaction, workerId: string): Promise<void> {
  await tx.query(`DELETE FROM ${table(tx.schema, 'consumer_workers')} WHERE worker_id = $1`, [workerId]);
}

/**
 * Renews every lease this worker holds, lapsed or not: a lapsed lease that no other
 * worker claimed meanwhile is still this worker's (a claim changes the owner, and every
 * write of a partition is fenced by owner), so renewing it is safe and spares a running
 * batch a needless loss of ownership. Rows another transaction has locked (a switch
 * waiting to swap views, say) are skipped, not waited for: one stuck projection must not
 * stop the renewal of the others. They are returned as held all the same (the owner
 * column, as of this statement, says they are), and renewed on a later round.
 */
export async function renewLeases(tx: EventStoreTransaction, workerId: string, ttlMs: number): Promise<HeldPartition[]> {
  const rows = await tx.query<{ projection: string; generation: number; partition: number; schema_name: string; status: HeldPartition['status'] }>(
    `WITH lockable AS (
       SELECT consumer, generation, partition FROM ${table(tx.schema, 'consumer_partitions')}
        WHERE owner = $1 FOR UPDATE SKIP LOCKED),
     renewed AS (
       UPDATE ${table(tx.schema, 'consumer_partitions')} p
          SET lease_expires_at = now() + ${ttl('$2')}, heartbeat_at = now()
         FROM lockable l
        WHERE p.consumer = l.consumer AND p.generation = l.generation AND p.partition = l.partition AND p.owner = $1)
     SELECT p.consumer AS projection, p.generation, p.partition, g.schema_name, g.status
       FROM ${table(tx.schema, 'consumer_partitions')} p
       JOIN ${table(tx.schema, 'projection_generations')} g ON g.projection = p.consumer AND g.generation = p.generation
      WHERE p.owner = $1`,
    [workerId, ttlMs],
  );
  return rows.map((row) => ({ projection: row.projection, generation: row.generation, partition: row.partition, schemaName: row.schema_name, status: row.status }));
}

/**
 * The partitions this code can process (generations of its version that are being built,
 * and the live one unless the projection is inline, which its appenders write), and how
 * many live workers run this projection at this version: the fair share is computed per
 * version, so during a rolling deploy old and new code each cover their own generation.
 */
export async function shareOf(
  tx: EventStoreTransaction,
  projection: { name: string; version: number },
  inline: boolean,
  ttlMs: number,
): Promise<{ units: number; workers: number }> {
  const [counts] = await tx.query<{ units: number; workers: number }>(
    `SELECT
       (SELECT count(*)::int FROM ${table(tx.schema, 'consumer_partitions')} p
          JOIN ${table(tx.schema, 'projection_generations')} g ON g.projection = p.consumer AND g.generation = p.generation
         WHERE p.consumer = $1 AND g.version = $2 AND p.stopped_error IS NULL
           AND (g.status = 'building' OR (g.status = 'live' AND NOT $3::boolean))) AS units,
       (SELECT count(*)::int FROM ${table(tx.schema, 'consumer_workers')}
         WHERE $1 = ANY(consumers) AND (versions ->> $1)::integer = $2
           AND heartbeat_at > now() - ${ttl('$4')}) AS workers`,
    [projection.name, projection.version, inline, ttlMs],
  );
  return { units: counts?.units ?? 0, workers: Math.max(1, counts?.workers ?? 1) };
}

/** Claims up to `limit` partitions that are unowned or whose lease lapsed (another worker's). */
export async function claimPartitions(
  tx: EventStoreTransaction,
  projection: { name: string; version: number },
  options: { inline: boolean; limit: number; workerId: string; ttlMs: number },
): Promise<HeldPartition[]> {
  const rows = await tx.query<{ generation: number; partition: number; schema_name: string; status: HeldPartition['status'] }>(
    `WITH free AS (
       SELECT p.consumer, p.generation, p.partition
         FROM ${table(tx.schema, 'consumer_partitions')} p
         JOIN ${table(tx.schema, 'projection_generations')} g ON g.projection = p.consumer AND g.generation = p.generation
        WHERE p.consumer = $1 AND g.version = $2 AND p.stopped_error IS NULL
          AND (g.status = 'building' OR (g.status = 'live' AND NOT $3::boolean))
          AND (p.owner IS NULL OR (p.lease_expires_at <= now() AND p.owner <> $5))
        ORDER BY g.status = 'live' DESC, p.generation, p.partition
        LIMIT $4
        FOR UPDATE OF p SKIP LOCKED)
     UPDATE ${table(tx.schema, 'consumer_partitions')} p
        SET owner = $5, lease_expires_at = now() + ${ttl('$6')}, heartbeat_at = now()
       FROM free, ${table(tx.schema, 'projection_generations')} g
      WHERE p.consumer = free.consumer AND p.generation = free.generation AND p.partition = free.partition
        AND g.projection = p.consumer AND g.generation = p.generation
      RETURNING p.generation, p.partition, g.schema_name, g.status`,
    [projection.name, projection.version, options.inline, options.limit, options.workerId, options.ttlMs],
  );
  return rows.map((row) => ({ projection: projection.name, generation: row.generation, partition: row.partition, schemaName: row.schema_name, status: row.status }));
}

/** The projection's generations that are not retired, newest first: what this code may process, or why not. */
export async function activeGenerations(tx: EventStoreTransaction, projection: string): Promise<{ version: number; status: 'live' | 'building' }[]> {
  return tx.query(
    `SELECT version, status FROM ${table(tx.schema, 'projection_generations')}
      WHERE projection = $1 AND status IN ('live', 'building') ORDER BY generation DESC`,
    [projection],
  );
}

export async function releaseLease(tx: EventStoreTransaction, key: PartitionKey, workerId: string): Promise<void> {
  await tx.query(
    `UPDATE ${table(tx.schema, 'consumer_partitions')} SET owner = NULL, lease_expires_at = NULL, throughput = 0, updated_at = now()
      WHERE consumer = $1 AND generation = $2 AND partition = $3 AND owner = $4`,
    [key.projection, key.generation, key.partition, workerId],
  );
}

export interface BatchState {
  position: bigint;
  mine: boolean;
  status: 'live' | 'building' | 'retired';
  stopped: boolean;
  replayUntil: bigint;
  /** The lowest checkpoint of the projection's live generation, when this is another one. */
  livePosition: bigint | null;
  /** What that live generation handles (null: every type, or every category). */
  liveTypes: string[] | null;
  liveCategories: string[] | null;
}

export async function readBatchState(tx: EventStoreTransaction, key: PartitionKey, workerId: string): Promise<BatchState | undefined> {
  const [row] = await tx.query<{
    position: string | bigint;
    mine: boolean;
    status: BatchState['status'];
    stopped: boolean;
    replay_until: string | bigint;
    live_position: string | bigint | null;
    live_types: string[] | null;
    live_categories: string[] | null;
  }>(
    `SELECT p.position, p.owner IS NOT DISTINCT FROM $4 AS mine, g.status, p.stopped_error IS NOT NULL AS stopped, g.replay_until,
            (SELECT min(lp.position) FROM ${table(tx.schema, 'consumer_partitions')} lp
               JOIN ${table(tx.schema, 'projection_generations')} lg ON lg.projection = lp.consumer AND lg.generation = lp.generation
              WHERE lg.projection = p.consumer AND lg.status = 'live' AND lg.generation <> p.generation) AS live_position,
            live.event_types AS live_types, live.categories AS live_categories
       FROM ${table(tx.schema, 'consumer_partitions')} p
       JOIN ${table(tx.schema, 'projection_generations')} g ON g.projection = p.consumer AND g.generation = p.generation
       LEFT JOIN ${table(tx.schema, 'projection_generations')} live
         ON live.projection = p.consumer AND live.status = 'live' AND live.generation <> p.generation
      WHERE p.consumer = $1 AND p.generation = $2 AND p.partition = $3`,
    [key.projection, key.generation, key.partition, workerId],
  );
  if (!row) return undefined;
  return {
    position: BigInt(row.position),
    mine: row.mine,
    status: row.status,
    stopped: row.stopped,
    replayUntil: BigInt(row.replay_until),
    livePosition: row.live_position === null ? null : BigInt(row.live_position),
    liveTypes: row.live_types,
    liveCategories: row.live_categories,
  };
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
  key: PartitionKey,
  update: { workerId: string; ttlMs: number; from: bigint; to: bigint; events: number; caughtUp: boolean; throughput: number },
): Promise<boolean> {
  const rows = await tx.query(
    `UPDATE ${table(tx.schema, 'consumer_partitions')}
        SET position = $5, events_processed = events_processed + $6, caught_up = $7, throughput = $8,
            heartbeat_at = now(), updated_at = now(), lease_expires_at = greatest(lease_expires_at, now() + ${ttl('$10')})
      WHERE consumer = $1 AND generation = $2 AND partition = $3 AND owner = $4 AND position = $9
      RETURNING 1`,
    [
      key.projection,
      key.generation,
      key.partition,
      update.workerId,
      update.to.toString(),
      update.events,
      update.caughtUp,
      update.throughput,
      update.from.toString(),
      update.ttlMs,
    ],
  );
  return rows.length > 0;
}

export async function countRetry(tx: EventStoreTransaction, key: PartitionKey, workerId: string): Promise<void> {
  await tx.query(
    `UPDATE ${table(tx.schema, 'consumer_partitions')} SET retries = retries + 1, updated_at = now()
      WHERE consumer = $1 AND generation = $2 AND partition = $3 AND owner = $4`,
    [key.projection, key.generation, key.partition, workerId],
  );
}

/**
 * Stops the partition (onFailure: 'stop'), fenced like a checkpoint move: a worker that
 * lost the partition, or whose failed batch another owner has since got past, stops
 * nothing. Returns whether it stopped it.
 */
export async function stopPartition(tx: EventStoreTransaction, key: PartitionKey, fence: { workerId: string; from: bigint }, reason: string): Promise<boolean> {
  const rows = await tx.query(
    `UPDATE ${table(tx.schema, 'consumer_partitions')} SET stopped_error = $6, owner = NULL, lease_expires_at = NULL, updated_at = now()
      WHERE consumer = $1 AND generation = $2 AND partition = $3 AND owner = $4 AND position = $5
      RETURNING 1`,
    [key.projection, key.generation, key.partition, fence.workerId, fence.from.toString(), reason],
  );
  return rows.length > 0;
}

export interface DeadLetter {
  globalPosition: bigint;
  id: string;
  streamId: string;
  version: number;
  type: string;
  message: string;
  stack: string | null;
  attempts: number;
}

/** Records a dead letter and moves the checkpoint past it, together; fenced like moveCheckpoint. */
export async function deadLetter(tx: EventStoreTransaction, key: PartitionKey, fence: { workerId: string; from: bigint }, event: DeadLetter): Promise<boolean> {
  const moved = await tx.query(
    `UPDATE ${table(tx.schema, 'consumer_partitions')}
        SET position = $5, dead_lettered = dead_lettered + 1, updated_at = now()
      WHERE consumer = $1 AND generation = $2 AND partition = $3 AND owner = $4 AND position = $6
      RETURNING 1`,
    [key.projection, key.generation, key.partition, fence.workerId, event.globalPosition.toString(), fence.from.toString()],
  );
  if (moved.length === 0) return false;
  await recordDeadLetter(tx, key, event);
  return true;
}

/**
 * Inserts a dead letter (once per generation and position) without touching the
 * checkpoint: for a caller that moves past the event itself, or has no checkpoint to
 * move (an inline generation's owed event, inline-pending.ts).
 */
export async function recordDeadLetter(tx: EventStoreTransaction, key: PartitionKey, event: DeadLetter): Promise<void> {
  await tx.query(
    `INSERT INTO ${table(tx.schema, 'consumer_dead_letters')}
       (consumer, generation, partition, global_position, event_id, stream_id, stream_version, event_type,
        error_message, error_stack, attempts)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (consumer, generation, global_position) DO NOTHING`,
    [
      key.projection,
      key.generation,
      key.partition,
      event.globalPosition.toString(),
      event.id,
      event.streamId,
      event.version,
      event.type,
      event.message,
      event.stack,
      event.attempts,
    ],
  );
}
