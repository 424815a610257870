import type { EventStoreTransaction } from '../event-store/event-store.js';
import { BatchFault, type AnyConsumerClient, type BatchPlan, type ConsumerUnit, type LogEvent } from './consumer-client.js';
import { isTransientDatabaseError } from './failures.js';
import { moveCheckpoint, readPartition } from './partitions.js';

export type BatchOutcome =
  | { kind: 'done'; events: number; position: bigint; caughtUp: boolean; plan: BatchPlan | undefined }
  | { kind: 'lost' }
  | { kind: 'release' }
  /** The handler failed (or an event did not decode): `from` is the checkpoint the batch started from. */
  | { kind: 'failed'; error: unknown; from: bigint; failedEvent: LogEvent | undefined; limit: number };

export interface BatchSettings {
  workerId: string;
  ttlMs: number;
  /** The engine's transactions: `withTransaction(work, { appends })`, appends off unless asked for. */
  transaction: <T>(work: (tx: EventStoreTransaction) => Promise<T>, options?: { appends: boolean }) => Promise<T>;
}

class HandlerFailure extends Error {
  constructor(
    readonly failure: unknown,
    readonly event: LogEvent | undefined,
    readonly from: bigint,
    readonly limit: number,
  ) {
    super('consumer handler failed');
  }
}

class LostOwnership extends Error {}

interface Page {
  from: bigint;
  plan: BatchPlan;
  events: LogEvent[];
  next: bigint;
  full: boolean;
}

/**
 * One batch. In mode `transaction`, one transaction reads, hands the events to the client
 * and moves the checkpoint: everything is read before anything is written, so the
 * transaction has no id while it reads and does not hold back the global log's bound.
 * In mode `at-least-once`, the read commits first, the client works outside any
 * transaction, and a second transaction moves the checkpoint. The checkpoint UPDATE is
 * the fence (moveCheckpoint) either way. A database fault, in the engine's statements or
 * raised inside a handler (a deadlock, a dropped connection), is thrown: the caller backs
 * off and tries again, and the event is not blamed for it.
 */
export async function processBatch(client: AnyConsumerClient, unit: ConsumerUnit, settings: BatchSettings, fixedLimit?: number): Promise<BatchOutcome> {
  try {
    if (client.mode === 'transaction') {
      return await settings.transaction(
        async (tx) => {
          const page = await readPage(client, unit, { tx, workerId: settings.workerId, fixedLimit });
          if (!('events' in page)) return page;
          return handleAndMove(client, unit, page, { tx, settings });
        },
        { appends: client.appends === true },
      );
    }
    const page = await settings.transaction((tx) => readPage(client, unit, { tx, workerId: settings.workerId, fixedLimit }));
    if (!('events' in page)) return page;
    return await handleAndMove(client, unit, page, { tx: undefined, settings });
  } catch (error) {
    if (error instanceof LostOwnership) return { kind: 'lost' };
    if (error instanceof HandlerFailure) return { kind: 'failed', error: error.failure, from: error.from, failedEvent: error.event, limit: error.limit };
    throw error;
  }
}

async function readPage(
  client: AnyConsumerClient,
  unit: ConsumerUnit,
  { tx, workerId, fixedLimit }: { tx: EventStoreTransaction; workerId: string; fixedLimit: number | undefined },
): Promise<Page | { kind: 'lost' } | { kind: 'release' }> {
  const state = await readPartition(tx, unit, workerId);
  if (!state?.mine || state.stopped) return { kind: 'lost' };
  const from = state.position;
  const plan = (await client.plan(tx, unit, { from, fixedLimit })) as BatchPlan | { kind: 'lost' | 'release' };
  if ('kind' in plan) return plan;
  const limit = fixedLimit ?? plan.limit;
  const head = await tx.headPosition();
  const read = await tx.readAll({
    after: from,
    limit,
    ...(client.eventTypes ? { types: [...client.eventTypes] } : {}),
    ...(client.categories ? { categories: [...client.categories] } : {}),
    ...(client.logPartitions ? { partition: { ...client.logPartitions, index: unit.partition } } : {}),
  });
  const full = read.length === limit;
  const last = read.at(-1)?.globalPosition ?? from;
  // With a filter, a short page means every matching event up to the head read first has
  // been seen: the checkpoint may move past the events of other types and partitions.
  const next = full ? last : [head, last, from].reduce((a, b) => (a > b ? a : b));
  const events: LogEvent[] = [];
  for (const event of read) {
    let selected: LogEvent | undefined;
    try {
      selected = client.select(event, unit);
    } catch (error) {
      throw new HandlerFailure(error, event, from, limit);
    }
    if (selected) events.push(selected);
  }
  return { from, plan: { ...plan, limit }, events, next, full };
}

async function handleAndMove(
  client: AnyConsumerClient,
  unit: ConsumerUnit,
  page: Page,
  { tx, settings }: { tx: EventStoreTransaction | undefined; settings: BatchSettings },
): Promise<BatchOutcome> {
  const { from, plan, events, next, full } = page;
  let result;
  try {
    result = await client.handle({ unit, events, plan, from, tx });
  } catch (error) {
    if (error instanceof BatchFault) throw error.fault;
    if (isTransientDatabaseError(error)) throw error;
    throw new HandlerFailure(error, plan.limit === 1 ? events[0] : undefined, from, plan.limit);
  }
  if (result?.kind === 'lost' || result?.kind === 'release') return result;
  if (result?.kind === 'restart') return { kind: 'done', events: 0, position: result.position, caughtUp: false, plan: undefined };
  const now = Date.now();
  while (unit.recent.length > 0 && unit.recent[0]!.at < now - 10_000) unit.recent.shift();
  const windowMs = Math.max(1000, now - (unit.recent[0]?.at ?? now));
  const throughput = ((unit.recent.reduce((sum, r) => sum + r.events, 0) + events.length) * 1000) / windowMs;
  const update = { workerId: settings.workerId, ttlMs: settings.ttlMs, from, to: next, events: events.length, caughtUp: !full, throughput };
  const moved = tx ? await moveCheckpoint(tx, unit, update) : await settings.transaction((own) => moveCheckpoint(own, unit, update));
  if (!moved) throw new LostOwnership();
  unit.recent.push({ at: now, events: events.length });
  return { kind: 'done', events: events.length, position: next, caughtUp: !full, plan };
}
