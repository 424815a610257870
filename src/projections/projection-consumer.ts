import { BatchFault, type ConsumerBatch, type ConsumerClient, type ConsumerUnit, type Interrupt, type Restart } from '../consumers/consumer-client.js';
import type { ConsumerLogger } from '../consumers/engine-options.js';
import type { EventStore, RecordedEvent } from '../event-store/event-store.js';
import { categoryOf } from '../event-store/stream-name.js';
import { applyInLogOrder } from './apply-in-log-order.js';
import { partitionOfKey, partitionsByStream } from '../consumers/partition-key.js';
import type { AnyProjectedEvent, AnyProjection, ProjectionContext } from './define-projection.js';
import { lockProjection } from './generations.js';
import { owedByLive } from './inline-pending.js';
import { applyPendingInline } from './inline-sweep.js';
import { activeGenerations, readGenerationState, readPartitionCheckpoint, type GenerationState } from './projection-state.js';
import { projectionContext } from './projection-context.js';
import { setupProjection, switchToRebuild } from './rebuild.js';

/** A projection's batch plan: what the engine needs, and what the handlers' run needs. */
export interface ProjectionPlan extends GenerationState {
  limit: number;
  replaying: boolean;
  /** Events up to this position are history for this batch (see plan()). */
  historyUntil: bigint;
}

export interface ProjectionConsumerSettings {
  store: EventStore;
  inline: boolean;
  autoRebuild: boolean;
  batchSize: number;
  replayBatchSize: number;
  logger: ConsumerLogger;
  workerId: () => string;
}

/** The largest position: for the rebuild of an inline projection, every event is history but those still owed. */
const everything = BigInt('0x7fffffffffffffff');

/**
 * A projection as a client of the log-consumer engine: its generations are what the
 * engine claims (the live one, unless inline, and a rebuild being built), its handlers
 * apply each batch in the batch's transaction, and a rebuild that caught up is switched
 * to. Idle when this code's version has no generation to process, said once per change.
 */
export function projectionConsumer(projection: AnyProjection, settings: ProjectionConsumerSettings): ConsumerClient<AnyProjectedEvent, ProjectionPlan> {
  const { store, inline, logger } = settings;
  let idle: string | undefined;
  const setup = () => setupProjection(store, projection, { autoRebuild: settings.autoRebuild, inline }).then(() => {});
  const customKey = projection.definition.partitionKey !== undefined;

  return {
    name: projection.name,
    version: projection.version,
    eventTypes: projection.eventTypes,
    categories: projection.categories,
    logPartitions: partitionsByStream(projection.partitions, projection.definition.partitionKey),
    mode: 'transaction',
    setup,

    /**
     * Generations of this code's version that are being built, and the live one unless the
     * projection is inline (its appenders write it), the live one first. A version bump
     * deployed while this runner was up, or a generation dropped by hand, is set up again
     * here. When none is left for this version (the code was rolled back after a newer
     * version switched, or autoRebuild is off), this worker processes nothing of it.
     */
    async claimable() {
      let active = await store.withTransaction((tx) => activeGenerations(tx, projection.name), { appends: false });
      let mine = active.filter((g) => g.version === projection.version);
      const newer = active.find((g) => g.version > projection.version);
      if (mine.length === 0 && !newer && settings.autoRebuild) {
        await setup();
        active = await store.withTransaction((tx) => activeGenerations(tx, projection.name), { appends: false });
        mine = active.filter((g) => g.version === projection.version);
      }
      if (mine.length > 0) {
        if (idle !== undefined) logger.info({ projection: projection.name }, 'projection has a generation of this version again');
        idle = undefined;
        return mine
          .filter((g) => g.status === 'building' || !inline)
          .sort((a, b) => Number(b.status === 'live') - Number(a.status === 'live') || a.generation - b.generation)
          .map((g) => g.generation);
      }
      const reason = newer
        ? `the projection is at version ${newer.version} (${newer.status}), newer than this code's ${projection.version}: this worker processes nothing of it, and the read model is not updated by this code; deploy the newer code`
        : `no generation of version ${projection.version}, and autoRebuild is off: run \`annals projections rebuild ${projection.name}\``;
      if (idle !== reason) {
        idle = reason;
        logger.error({ projection: projection.name, version: projection.version, worker: settings.workerId() }, `projection idle: ${reason}`);
      }
      return [];
    },

    /**
     * An inline projection's live generation of this code's version gets here the events
     * that code of another version appended meanwhile (a rolling deploy): that code could
     * not apply them, and recorded them instead (inline-pending.ts).
     */
    async afterRound() {
      if (!inline) return;
      try {
        const applied = await applyPendingInline(store, projection);
        if (applied > 0) logger.info({ projection: projection.name, events: applied }, 'applied events appended by code of another version');
      } catch (error) {
        // A handler failed on one stream (it stays owed, and fails that stream's inline
        // appends alike), or the database went away: the next round tries again.
        logger.warn({ err: error, projection: projection.name }, 'could not apply events appended by code of another version; retrying');
      }
    },

    /**
     * History, replayed (large batches, `replayBatch`, `replaying` for the handlers): for
     * a rebuild, what the live generation has already processed, so a side effect it
     * performed is not repeated and one it never got to is not lost. The live generation
     * of an inline projection is applied with each append, by code of its own version, or
     * owes the event (inline-pending.ts): for its rebuild, every event is history but
     * those still owed. For a live generation (or a first build), history is what the log
     * held when it was created.
     */
    async plan(tx, unit, { from, fixedLimit }) {
      const state = await readGenerationState(tx, unit);
      if (!state || state.status === 'retired') return { kind: 'lost' };
      // Switched to by another worker's partition: the appenders write it from now on.
      if (state.status === 'live' && inline) return { kind: 'release' };
      const historyUntil =
        state.status !== 'building' ? state.replayUntil : inline && state.livePosition !== null ? everything : (state.livePosition ?? state.replayUntil);
      const limit = fixedLimit ?? (from < historyUntil ? settings.replayBatchSize : settings.batchSize);
      return { ...state, limit, replaying: from < historyUntil, historyUntil };
    },

    select(event: RecordedEvent, unit: ConsumerUnit) {
      // The partition by stream id is known before decoding: an event only its own
      // partition could fail on is not decoded by the others.
      if (!customKey && projection.partitions > 1 && partitionOfKey(event.streamId, projection.partitions) !== unit.partition) return undefined;
      const decoded = projection.decode(event) as AnyProjectedEvent;
      return customKey && projection.partitionOf(decoded) !== unit.partition ? undefined : decoded;
    },

    handle: (batch) => applyBatch(projection, batch, inline),

    async caughtUp(unit, plan) {
      if (plan.status !== 'building') return 'continue';
      const switched = await switchToRebuild(store, projection, inline).catch((error: unknown) => {
        // The database went away, or a handler failed on the drain: the next caught-up batch asks again.
        logger.warn({ err: error, projection: projection.name }, 'could not switch to the rebuilt generation; retrying');
        return undefined;
      });
      if (!switched) return 'continue';
      logger.info({ projection: projection.name, generation: unit.generation, owedByRetired: switched.owedByRetired }, 'rebuild caught up: readers switched to it');
      return inline ? 'release' : 'continue';
    },
  };
}

/**
 * Applies a batch with its history told from its fresh events. A rebuild is switched to
 * with a drain of what lies beyond its checkpoints, up to the live generation's
 * (rebuild.ts, switch-drain.ts). Holding the projection's lock shared, this batch commits
 * before a switch reads them; and a switch that committed since the plan was read is seen
 * here (a fresh statement): the batch then leaves the generation alone (an inline one is
 * the appenders' from now on), or starts over from where the drain left its checkpoint.
 */
async function applyBatch(projection: AnyProjection, batch: ConsumerBatch<AnyProjectedEvent, ProjectionPlan>, inline: boolean): Promise<void | Interrupt | Restart> {
  const { events } = batch;
  const prepared = await prepareBatch(projection, batch, inline).catch((error: unknown) => {
    // The machinery's own statements: not the events' fault.
    throw new BatchFault(error);
  });
  if ('kind' in prepared) return prepared;
  await applyInLogOrder(projection, events, prepared.isHistory, prepared.context);
}

async function prepareBatch(
  projection: AnyProjection,
  { unit, events, plan, from, tx }: ConsumerBatch<AnyProjectedEvent, ProjectionPlan>,
  inline: boolean,
): Promise<{ context: ProjectionContext; isHistory: (event: AnyProjectedEvent) => boolean } | Interrupt | Restart> {
  if (!tx) throw new TypeError('a projection batch runs in a transaction');
  const context = await projectionContext(tx, plan.schemaName, { replaying: true, generation: unit.generation, partition: unit.partition });
  let isHistory = (event: AnyProjectedEvent) => event.globalPosition <= plan.historyUntil;
  if (plan.status === 'building') {
    await lockProjection(tx, projection.name, 'shared');
    const still = await readPartitionCheckpoint(tx, unit);
    if (!still || still.status === 'retired') return { kind: 'lost' };
    if (still.status === 'live' && inline) return { kind: 'release' };
    if (still.position !== from) return { kind: 'restart', position: still.position };
    const owed = inline ? await owedByLive(tx, projection.name, events.map((event) => event.globalPosition)) : undefined;
    if (owed) isHistory = (event) => !owed.has(event.globalPosition);
    // An event the live generation does not handle (a type or category this version adds)
    // was never seen by it: like a new projection's, it is history only if the log held it
    // when this rebuild was created.
    const { liveTypes, liveCategories } = plan;
    if (plan.livePosition !== null && (liveTypes !== null || liveCategories !== null)) {
      const seenByLive = isHistory;
      isHistory = (event) =>
        (liveTypes === null || liveTypes.includes(event.type)) && (liveCategories === null || liveCategories.includes(categoryOf(event.streamId)))
          ? seenByLive(event)
          : event.globalPosition <= plan.replayUntil;
    }
  }
  return { context, isHistory };
}
