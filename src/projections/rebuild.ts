import type { EventStore, EventStoreTransaction } from '../event-store/event-store.js';
import { hasPartitions, readCheckpoints } from '../consumers/partitions.js';
import { globalPositionSchema } from '../event-store/read-options.js';
import { parseInput } from '../validation.js';
import { ValidationError } from '../errors.js';
import { readSchemaOf, type AnyProjection } from './define-projection.js';
import { createGeneration, dropRetired, lockProjection, makeLive, readGenerations, retire, setReadSchema, type Generation } from './generations.js';
import { adoptReadViews, pointViewsAt } from './read-schemas.js';
import { forgetOwed } from './inline-pending.js';
import { drainInline, drainToLive } from './switch-drain.js';
import { refuseRemovedHistory } from '../retention/removed-history.js';

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
    // One name, one consumer: a consumer of another kind (runConsumers) holds this one.
    if (existing.length === 0 && (await hasPartitions(tx, projection.name))) {
      throw new ValidationError([{ field: 'projection.name', reason: `'${projection.name}' is a consumer of this store (runConsumers); give the projection a name of its own` }]);
    }
    refuseOtherPartitions(existing, projection);
    const live = existing.find((g) => g.status === 'live');
    const building = existing.find((g) => g.status === 'building');
    await moveReadSchema(tx, projection, live, building);
    if (!live && !building) {
      // Any committed event counts, whether readers can see it yet or not
      // (lastCommittedPosition is not bounded): made live at once, the first generation
      // would never apply an event that committed behind an open appender's transaction.
      const logHasEvents = options.inline === true && (await tx.lastCommittedPosition()) > 0n;
      await createGeneration(tx, projection, logHasEvents ? 'building' : 'live', 0n, { appliedInline: options.inline === true });
    } else if (live && live.version < projection.version && options.autoRebuild !== false) {
      if (!building || building.version < projection.version) {
        // A version bump's rebuild too: RemovedHistoryError, until `annals projections
        // rebuild` is run with --from or --accept-removed-history.
        await refuseRemovedHistory(tx, projection, 0n);
        if (building) await retire(tx, building);
        await createGeneration(tx, projection, 'building', 0n, { appliedInline: options.inline === true });
      }
    }
    return readGenerations(tx, projection.name);
  }, { appends: false });
  await dropRetired((work) => store.withTransaction(work, { appends: false }), projection.name);
  return generations;
}

export interface StartRebuildOptions {
  /** Replay from after this global position instead of from the start of the log. */
  from?: bigint;
  /**
   * Rebuild even though retention removed events the replay would need, from what the log
   * still holds (default false: a RemovedHistoryError names the position to rebuild from).
   */
  acceptRemovedHistory?: boolean;
}

/**
 * Starts a rebuild of `projection` by replay: a new generation that workers fill from
 * the log while the live one keeps serving reads. A rebuild already under way for this
 * version is resumed, not restarted.
 */
export async function startRebuild(store: EventStore, projection: AnyProjection, options: StartRebuildOptions = {}): Promise<Generation> {
  if (options.from !== undefined) parseInput(globalPositionSchema, options.from, 'options.from');
  if (options.acceptRemovedHistory !== undefined && typeof options.acceptRemovedHistory !== 'boolean') {
    throw new ValidationError([{ field: 'options.acceptRemovedHistory', reason: 'must be true or false' }]);
  }
  return store.withTransaction(async (tx) => {
    await lockProjection(tx, projection.name, 'exclusive');
    const existing = await readGenerations(tx, projection.name);
    refuseOtherPartitions(existing, projection);
    const building = existing.find((g) => g.status === 'building');
    if (building && building.version === projection.version) return building;
    const live = existing.find((g) => g.status === 'live');
    // Replacing a live read model built from the whole history: not from less of it, unasked.
    if (live && options.acceptRemovedHistory !== true) await refuseRemovedHistory(tx, projection, options.from ?? 0n);
    if (building) await retire(tx, building);
    // The same version's code applies it as it applies the live one; another version marks its own (inline-marks.ts).
    const appliedInline = live !== undefined && live.appliedInline && live.version === projection.version;
    return createGeneration(tx, projection, live ? 'building' : 'live', options.from ?? 0n, { appliedInline });
  }, { appends: false });
}

/**
 * The read schema follows the code: a definition given another `readSchema` (or a store
 * whose read schemas were named by an older release) gets the live views in the new
 * one at setup. The old views stay until their generation retires (its drop takes them
 * along), so readers still on the old name keep working through a rolling deploy.
 */
async function moveReadSchema(tx: EventStoreTransaction, projection: AnyProjection, live?: Generation, building?: Generation): Promise<void> {
  const readSchema = readSchemaOf(tx.schema, projection);
  if ((live?.readSchema ?? readSchema) === readSchema && (building?.readSchema ?? readSchema) === readSchema) return;
  for (const old of new Set([live?.readSchema, building?.readSchema])) if (old && old !== readSchema) await adoptReadViews(tx, projection.name, old);
  if (live) await pointViewsAt(tx, projection.name, readSchema, live.schemaName);
  await setReadSchema(tx, projection.name, readSchema);
}

/**
 * A generation keeps the partitions it was created with (one checkpoint each, which
 * cannot be split or merged), while workers route events by the code's count: with
 * another count, the events of a partition that has no row would be stepped over for
 * good. So the count changes only with the version, by a rebuild (issue 10).
 */
function refuseOtherPartitions(generations: readonly Generation[], projection: AnyProjection): void {
  const other = generations.find((g) => g.status !== 'retired' && g.version === projection.version && g.partitions !== projection.partitions);
  if (!other) return;
  const count = (n: number) => `${n} partition${n === 1 ? '' : 's'}`;
  throw new ValidationError([
    {
      field: 'partitions',
      reason:
        `'${projection.name}' at version ${other.version} has ${count(other.partitions)} (generation ${other.generation}, ${other.status}), ` +
        `not ${projection.partitions}: bump the version to change it (a rebuild fills a new generation with the new count)`,
    },
  ]);
}

/** What a switch did: the generation now live, and how many events the retired one still owed. */
export interface SwitchResult {
  generation: number;
  /**
   * Events appended by code of another version that the retired generation's code never
   * applied (an inline projection during a rolling deploy). The rebuild applied them as
   * fresh, so their side effects are not lost.
   */
  owedByRetired: number;
}

/**
 * Switches readers to the building generation of `projection` if every partition of it
 * has caught up with the log. Returns whether it switched (switchToRebuild says more).
 *
 * The switch is exact: under the projection's lock, taken exclusively, it brings the
 * build up to everything the live generation shows, so no key is ever seen going back.
 * For a worker-built projection, it locks the live generation's checkpoints (their
 * workers' fences wait for it) and applies, in its own transaction, what the log holds
 * between each build partition's checkpoint and the furthest live checkpoint. For an
 * inline projection, whose appenders hold the lock shared from before they append, it
 * applies everything the log holds beyond the build's checkpoints: every event applied
 * to the old generation is committed then, and every later one goes to the new one.
 */
export async function switchIfCaughtUp(store: EventStore, projection: AnyProjection, inline: boolean): Promise<boolean> {
  return (await switchToRebuild(store, projection, inline)) !== undefined;
}

/**
 * switchIfCaughtUp, saying what it did (undefined: it did not switch).
 *
 * @example
 * ```ts
 * const switched = await switchToRebuild(store, accountBalances, true);
 * if (switched?.owedByRetired) log.info(switched, 'events the old code never applied were applied as fresh by the rebuild');
 * ```
 */
export async function switchToRebuild(store: EventStore, projection: AnyProjection, inline: boolean): Promise<SwitchResult | undefined> {
  // Checked first without the lock, which waits for every batch in flight: workers ask
  // after each caught-up batch, and mostly some partition is still behind.
  const ready = await store.withTransaction(async (tx) => {
    const building = (await readGenerations(tx, projection.name)).find((g) => g.status === 'building' && g.version === projection.version);
    if (!building) return false;
    const partitions = await readCheckpoints(tx, { consumer: projection.name, generation: building.generation });
    return partitions.length > 0 && partitions.every((p) => p.caughtUp);
  }, { appends: false });
  if (!ready) return undefined;
  const switched = await store.withTransaction((tx) => switchNow(tx, projection, inline), { appends: false });
  if (switched) await dropRetired((work) => store.withTransaction(work, { appends: false }), projection.name);
  return switched;
}

const switchLockTimeoutMs = 2000;

async function switchNow(tx: EventStoreTransaction, projection: AnyProjection, inline: boolean): Promise<SwitchResult | undefined> {
  // Every lock of the switch waits at most this long: while it waits for the projection's
  // lock, inline appenders queue behind it; while it holds the partitions' rows and waits
  // to swap the views (a report still reading them), the workers' lease renewals and
  // fences wait for it. Better to give up and ask again after the next caught-up batch.
  await tx.query(`SET LOCAL lock_timeout = '${switchLockTimeoutMs}ms'`);
  await lockProjection(tx, projection.name, 'exclusive');
  const generations = await readGenerations(tx, projection.name);
  const building = generations.find((g) => g.status === 'building' && g.version === projection.version);
  if (!building) return undefined;
  const live = generations.find((g) => g.status === 'live');
  // Locked: a batch of the build committing now has moved its checkpoint when this reads
  // it, and one still to commit finds it moved by the drain (its fence fails). A batch of
  // an inline build holds the projection's lock shared from before its first write to
  // its commit, so none is in flight at all.
  const partitions = await readCheckpoints(tx, { consumer: building.projection, generation: building.generation }, 'update');
  if (partitions.length === 0 || partitions.some((p) => !p.caughtUp)) return undefined;
  const checkpoints = new Map(partitions.map((p) => [p.partition, p.position]));
  if (inline) await drainInline(tx, { projection, building, live, checkpoints });
  else if (live) await drainToLive(tx, { projection, building, live, checkpoints });
  let owedByRetired = 0;
  if (live) {
    await retire(tx, live);
    owedByRetired = await forgetOwed(tx, projection.name, live.generation);
  }
  await makeLive(tx, building);
  await pointViewsAt(tx, projection.name, building.readSchema, building.schemaName);
  return { generation: building.generation, owedByRetired };
}

