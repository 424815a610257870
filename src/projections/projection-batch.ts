import type { EventStoreTransaction } from '../event-store/event-store.js';
import { categoryOf } from '../event-store/stream-name.js';
import { applyInLogOrder } from './apply-in-log-order.js';
import { partitionOfKey, type AnyProjectedEvent, type AnyProjection } from './define-projection.js';
import { isTransientDatabaseError } from './failures.js';
import { lockProjection, table } from './generations.js';
import { owedByLive } from './inline-pending.js';
import { moveCheckpoint, readBatchState, type PartitionKey } from './partition-leases.js';
import { projectionContext } from './projection-context.js';

/** A partition of one generation, as a worker runs it. */
export interface Unit extends PartitionKey {
  projection: string;
  definition: AnyProjection;
  schemaName: string;
  /** The generation is a rebuild not yet switched to (as of the last batch). */
  building: boolean;
  /** Set when the partition was lost or the generation retired: the loop ends without releasing. */
  lost: boolean;
  /** Set when this worker holds more than its share: the loop ends and releases. */
  release: boolean;
  recent: { at: number; events: number }[];
}

export type BatchOutcome =
  | { kind: 'done'; events: number; position: bigint; caughtUp: boolean; replaying: boolean; building: boolean }
  | { kind: 'lost' }
  /** An inline projection's live generation: written by the appenders, never by a worker. */
  | { kind: 'release' }
  /** A handler failed (or an event did not decode): `from` is the checkpoint the batch started from. */
  | { kind: 'failed'; error: unknown; from: bigint; failedEvent: AnyProjectedEvent | undefined; limit: number };

export interface BatchSettings {
  workerId: string;
  ttlMs: number;
  batchSize: number;
  replayBatchSize: number;
  inline: boolean;
  /** The worker's transactions: `withTransaction(work, { appends: false })`. */
  transaction: <T>(work: (tx: EventStoreTransaction) => Promise<T>) => Promise<T>;
}

class HandlerFailure extends Error {
  constructor(
    readonly failure: unknown,
    readonly event: AnyProjectedEvent | undefined,
    readonly from: bigint,
    readonly limit: number,
  ) {
    super('projection handler failed');
  }
}

class LostOwnership extends Error {}

/**
 * One batch in one transaction. Everything is read before anything is written, so the
 * transaction has no id while it reads and does not hold back the global log's bound
 * for itself or other readers. The checkpoint UPDATE at the end is the fence
 * (moveCheckpoint). A database fault, in the worker's statements or raised inside a
 * handler (a deadlock, a dropped connection), is thrown: the caller backs off and tries
 * again, and the event is not blamed for it.
 */
export async function processBatch(unit: Unit, settings: BatchSettings, fixedLimit?: number): Promise<BatchOutcome> {
  const projection = unit.definition;
  try {
    return await settings.transaction(async (tx): Promise<BatchOutcome> => {
      const state = await readBatchState(tx, unit, settings.workerId);
      if (!state?.mine || state.status === 'retired' || state.stopped) return { kind: 'lost' };
      // Switched to by another worker's partition: the appenders write it from now on.
      if (state.status === 'live' && settings.inline) return { kind: 'release' };
      const from = state.position;
      // History, replayed (large batches, `replayBatch`, `replaying` for the handlers):
      // for a rebuild, what the live generation has already processed, so a side effect
      // it performed is not repeated and one it never got to is not lost. The live
      // generation of an inline projection is applied with each append, by code of its
      // own version, or owes the event (inline-pending.ts): for its rebuild, every event
      // is history but those still owed. For a live generation (or a first build), history
      // is what the log held when it was created.
      const replayUntil =
        state.status !== 'building'
          ? state.replayUntil
          : settings.inline && state.livePosition !== null
            ? BigInt('0x7fffffffffffffff')
            : (state.livePosition ?? state.replayUntil);
      const limit = fixedLimit ?? (from < replayUntil ? settings.replayBatchSize : settings.batchSize);
      const head = await tx.headPosition();
      const page = await tx.readAll({
        after: from,
        limit,
        types: [...projection.eventTypes],
        ...(projection.categories ? { categories: [...projection.categories] } : {}),
      });
      const full = page.length === limit;
      const last = page.at(-1)?.globalPosition ?? from;
      // With a filter, a short page means every matching event up to the head read
      // first has been seen: the checkpoint may move past the events of other types.
      const next = full ? last : [head, last, from].reduce((a, b) => (a > b ? a : b));
      const customKey = projection.definition.partitionKey !== undefined;
      const events: AnyProjectedEvent[] = [];
      for (const event of page) {
        if (!customKey && projection.partitions > 1 && partitionOfKey(event.streamId, projection.partitions) !== unit.partition) continue;
        let decoded: AnyProjectedEvent;
        try {
          decoded = projection.decode(event) as AnyProjectedEvent;
        } catch (error) {
          throw new HandlerFailure(error, event as AnyProjectedEvent, from, limit);
        }
        if (customKey && projection.partitionOf(decoded) !== unit.partition) continue;
        events.push(decoded);
      }
      const context = await projectionContext(tx, unit.schemaName, { replaying: true, generation: unit.generation, partition: unit.partition });
      let isHistory = (event: AnyProjectedEvent) => event.globalPosition <= replayUntil;
      // A rebuild is switched to with a drain of what lies beyond its checkpoints, up to
      // the live generation's (rebuild.ts, switch-drain.ts). Holding the projection's lock
      // shared, this batch commits before a switch reads them; and a switch that committed
      // since the state above was read is seen here (a fresh statement): the batch then
      // leaves the generation alone (an inline one is the appenders' from now on), or
      // starts over from where the drain left its checkpoint.
      if (state.status === 'building') {
        await lockProjection(tx, projection.name, 'shared');
        const [still] = await tx.query<{ status: string; position: string | bigint }>(
          `SELECT g.status, p.position FROM ${table(tx.schema, 'projection_generations')} g
             JOIN ${table(tx.schema, 'consumer_partitions')} p ON p.consumer = g.projection AND p.generation = g.generation
            WHERE g.projection = $1 AND g.generation = $2 AND p.partition = $3`,
          [projection.name, unit.generation, unit.partition],
        );
        if (!still || still.status === 'retired') return { kind: 'lost' };
        if (still.status === 'live' && settings.inline) return { kind: 'release' };
        if (BigInt(still.position) !== from) {
          return { kind: 'done', events: 0, position: BigInt(still.position), caughtUp: false, replaying: false, building: still.status === 'building' };
        }
        const owed = settings.inline ? await owedByLive(tx, projection.name, events.map((event) => event.globalPosition)) : undefined;
        if (owed) isHistory = (event) => !owed.has(event.globalPosition);
        // An event the live generation does not handle (a type or category this version
        // adds) was never seen by it: like a new projection's, it is history only if the
        // log held it when this rebuild was created.
        if (state.livePosition !== null && (state.liveTypes !== null || state.liveCategories !== null)) {
          const seenByLive = isHistory;
          const { liveTypes, liveCategories } = state;
          isHistory = (event) =>
            (liveTypes === null || liveTypes.includes(event.type)) && (liveCategories === null || liveCategories.includes(categoryOf(event.streamId)))
              ? seenByLive(event)
              : event.globalPosition <= state.replayUntil;
        }
      }
      try {
        await applyInLogOrder(projection, events, isHistory, context);
      } catch (error) {
        if (isTransientDatabaseError(error)) throw error;
        throw new HandlerFailure(error, limit === 1 ? events[0] : undefined, from, limit);
      }
      const now = Date.now();
      while (unit.recent.length > 0 && unit.recent[0]!.at < now - 10_000) unit.recent.shift();
      const windowMs = Math.max(1000, now - (unit.recent[0]?.at ?? now));
      const throughput = ((unit.recent.reduce((sum, r) => sum + r.events, 0) + events.length) * 1000) / windowMs;
      const moved = await moveCheckpoint(tx, unit, {
        workerId: settings.workerId,
        ttlMs: settings.ttlMs,
        from,
        to: next,
        events: events.length,
        caughtUp: !full,
        throughput,
      });
      if (!moved) throw new LostOwnership();
      unit.recent.push({ at: now, events: events.length });
      return { kind: 'done', events: events.length, position: next, caughtUp: !full, replaying: from < replayUntil, building: state.status === 'building' };
    });
  } catch (error) {
    if (error instanceof LostOwnership) return { kind: 'lost' };
    if (error instanceof HandlerFailure) return { kind: 'failed', error: error.failure, from: error.from, failedEvent: error.event, limit: error.limit };
    throw error;
  }
}
