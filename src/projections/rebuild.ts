import type { EventStore, EventStoreTransaction } from '../event-store/event-store.js';
import { toRecordedEvent, type EventRow } from '../event-store/read-statements.js';
import { ValidationError } from '../errors.js';
import type { AnyProjection } from './define-projection.js';
import { createGeneration, dropRetired, lockProjection, pointViewsAt, readGenerations, retire, table, type Generation } from './generations.js';
import { applyEvents } from './apply.js';
import { projectionContext } from './projection-context.js';

export interface SetupOptions {
  /**
   * When the code's `version` is newer than the live generation's, start a rebuild into
   * a new generation (default true). With false, the workers of the new code wait until
   * `annals projections rebuild` is run.
   */
  autoRebuild?: boolean;
  /** Projections applied inline with each append (see withInlineProjections). */
  inline?: boolean;
}

/**
 * Makes sure `projection` has the generations its code needs: a first generation (live
 * at once, so reads answer while it catches up; for an inline projection over a log
 * that already has events, built first and switched to when complete), and a rebuild
 * when the code's version is newer than the live one. Safe to call from every worker
 * at once.
 */
export async function setupProjection(store: EventStore, projection: AnyProjection, options: SetupOptions = {}): Promise<Generation[]> {
  const generations = await store.withTransaction(async (tx) => {
    await lockProjection(tx, projection.name, 'exclusive');
    const existing = await readGenerations(tx, projection.name);
    const live = existing.find((g) => g.status === 'live');
    const building = existing.find((g) => g.status === 'building');
    if (!live && !building) {
      const logHasEvents = options.inline === true && (await tx.query(`SELECT 1 FROM ${table(tx.schema, 'events')} LIMIT 1`)).length > 0;
      await createGeneration(tx, projection, logHasEvents ? 'building' : 'live', 0n);
    } else if (live && live.version < projection.version && options.autoRebuild !== false) {
      if (!building || building.version < projection.version) {
        if (building) await retire(tx, building);
        await createGeneration(tx, projection, 'building', 0n);
      }
    }
    return readGenerations(tx, projection.name);
  });
  await dropRetired((work) => store.withTransaction(work), projection.name);
  return generations;
}

export interface StartRebuildOptions {
  /** Replay from after this global position instead of from the start of the log. */
  from?: bigint;
}

/**
 * Starts a rebuild of `projection` by replay: a new generation that workers fill from
 * the log while the live one keeps serving reads. A rebuild already under way for this
 * version is resumed, not restarted.
 */
export async function startRebuild(store: EventStore, projection: AnyProjection, options: StartRebuildOptions = {}): Promise<Generation> {
  if (options.from !== undefined && (typeof options.from !== 'bigint' || options.from < 0n)) {
    throw new ValidationError([{ field: 'options.from', reason: 'must be a bigint global position >= 0n' }]);
  }
  return store.withTransaction(async (tx) => {
    await lockProjection(tx, projection.name, 'exclusive');
    const existing = await readGenerations(tx, projection.name);
    const building = existing.find((g) => g.status === 'building');
    if (building && building.version === projection.version) return building;
    if (building) await retire(tx, building);
    const live = existing.find((g) => g.status === 'live');
    return createGeneration(tx, projection, live ? 'building' : 'live', options.from ?? 0n);
  });
}

/**
 * Switches readers to the building generation of `projection` if every partition of it
 * has caught up with the log and it is at least as far along as the live one. Returns
 * whether it switched.
 *
 * For an inline projection the switch also applies, in its own transaction, whatever the
 * log holds beyond the build's checkpoints: inline appenders hold the projection's lock
 * shared from before they append, so once the switch has it exclusively, every event
 * applied inline to the old generation is committed and readable, and every later one
 * will be applied inline to the new generation.
 */
export async function switchIfCaughtUp(store: EventStore, projection: AnyProjection, inline: boolean): Promise<boolean> {
  // Checked first without the lock, which waits for every batch in flight: workers ask
  // after each caught-up batch, and mostly some partition is still behind.
  const ready = await store.withTransaction(async (tx) => {
    const building = (await readGenerations(tx, projection.name)).find((g) => g.status === 'building' && g.version === projection.version);
    if (!building) return false;
    const partitions = await readBuildPartitions(tx, projection, building);
    return partitions.length > 0 && partitions.every((p) => p.caught_up);
  });
  if (!ready) return false;
  const switched = await store.withTransaction(async (tx) => {
    await lockProjection(tx, projection.name, 'exclusive');
    const generations = await readGenerations(tx, projection.name);
    const building = generations.find((g) => g.status === 'building' && g.version === projection.version);
    if (!building) return false;
    const live = generations.find((g) => g.status === 'live');
    // Read under the lock: a worker's batch of an inline build holds it shared from
    // before its first write to its commit (projection-worker.ts), so these are the
    // checkpoints of committed batches, and a batch still to come finds its fence moved.
    const partitions = await readBuildPartitions(tx, projection, building);
    if (partitions.length === 0 || partitions.some((p) => !p.caught_up)) return false;
    const checkpoints = new Map(partitions.map((p) => [p.partition, BigInt(p.position)]));
    const buildPosition = [...checkpoints.values()].reduce((a, b) => (a < b ? a : b));
    if (live && !inline) {
      const [liveProgress] = await tx.query<{ min_position: string | null }>(
        `SELECT min(position)::text AS min_position FROM ${table(tx.schema, 'projection_partitions')}
          WHERE projection = $1 AND generation = $2`,
        [projection.name, live.generation],
      );
      if (buildPosition < BigInt(liveProgress?.min_position ?? '0')) return false;
    }
    if (inline) await drainForSwitch(tx, projection, building, checkpoints);
    if (live) await retire(tx, live);
    await tx.query(
      `UPDATE ${table(tx.schema, 'projection_generations')} SET status = 'live', live_since = now()
        WHERE projection = $1 AND generation = $2`,
      [projection.name, building.generation],
    );
    await pointViewsAt(tx, building.readSchema, building.schemaName);
    return true;
  });
  if (switched) await dropRetired((work) => store.withTransaction(work), projection.name);
  return switched;
}

/**
 * Applies every committed event after the build's checkpoints: each partition's events
 * after that partition's own checkpoint (partitions stop at different positions, and an
 * event at or below its partition's checkpoint is already in the new tables). Read
 * without the global log's visibility bound on purpose: under the exclusive lock no
 * appender that applies inline can commit, so nothing can appear later below what this
 * reads.
 */
async function drainForSwitch(
  tx: EventStoreTransaction,
  projection: AnyProjection,
  building: Generation,
  checkpoints: ReadonlyMap<number, bigint>,
): Promise<void> {
  const from = [...checkpoints.values()].reduce((a, b) => (a < b ? a : b));
  const context = await projectionContext(tx, building.schemaName, { replaying: true, generation: building.generation, partition: 0 });
  let after = from;
  for (;;) {
    const rows = await tx.query<EventRow>(
      `SELECT global_position, stream_id, stream_version, event_id, type, schema_version, data, metadata, recorded_at
         FROM ${table(tx.schema, 'events')}
        WHERE global_position > $1 AND type = ANY($2::text[]) ${projection.categories ? 'AND category = ANY($3::text[])' : ''}
        ORDER BY global_position LIMIT 1000`,
      projection.categories ? [after.toString(), projection.eventTypes, projection.categories] : [after.toString(), projection.eventTypes],
    );
    if (rows.length === 0) break;
    const events = rows.map((row) => projection.decode(toRecordedEvent(row)));
    const missing = events.filter((event) => event.globalPosition > (checkpoints.get(projection.partitionOf(event)) ?? 0n));
    await applyEvents(projection, missing, context, true);
    after = events.at(-1)!.globalPosition;
    if (rows.length < 1000) break;
  }
  await tx.query(
    `UPDATE ${table(tx.schema, 'projection_partitions')} SET position = greatest(position, $3), updated_at = now()
      WHERE projection = $1 AND generation = $2`,
    [projection.name, building.generation, after.toString()],
  );
}

function readBuildPartitions(
  tx: EventStoreTransaction,
  projection: AnyProjection,
  building: Generation,
): Promise<{ partition: number; position: string | bigint; caught_up: boolean }[]> {
  return tx.query(
    `SELECT partition, position, caught_up FROM ${table(tx.schema, 'projection_partitions')}
      WHERE projection = $1 AND generation = $2 ORDER BY partition`,
    [projection.name, building.generation],
  );
}
