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
  /** What the client's prepare found, in the read's transaction. */
  prepared?: unknown;
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
    const page = await (takeReadAhead(unit, fixedLimit) ?? read(client, unit, settings, { fixedLimit }));
    if (!('events' in page)) return page;
    if (client.readAhead === true && page.full && fixedLimit === undefined) {
      readAhead.set(unit, { from: page.next, page: read(client, unit, settings, { fixedLimit, from: page.next }) });
    }
    const outcome = await handleAndMove(client, unit, page, { tx: undefined, settings });
    // The page read ahead is the next batch's only if this one moved the checkpoint to its start.
    if (outcome.kind !== 'done' || outcome.position !== readAhead.get(unit)?.from) void settleReadAhead(unit);
    return outcome;
  } catch (error) {
    void settleReadAhead(unit);
    if (error instanceof LostOwnership) return { kind: 'lost' };
    if (error instanceof HandlerFailure) return { kind: 'failed', error: error.failure, from: error.from, failedEvent: error.event, limit: error.limit };
    throw error;
  }
}

type PageOrInterrupt = Page | { kind: 'lost' } | { kind: 'release' };

/**
 * The next page of an at-least-once client with `readAhead`, read while the client
 * handles the current one: from where that batch will move the checkpoint. A page of
 * the log never changes once read (a reader never skips: nothing can still commit
 * below what a read returned), so a page read early is the page a read now would start
 * with; the fence of its own checkpoint move checks ownership as for any batch.
 */
const readAhead = new WeakMap<ConsumerUnit, { from: bigint; page: Promise<PageOrInterrupt> }>();

function read(client: AnyConsumerClient, unit: ConsumerUnit, settings: BatchSettings, at: { fixedLimit: number | undefined; from?: bigint }): Promise<PageOrInterrupt> {
  const reading = settings.transaction(async (tx) => {
    const page = await readPage(client, unit, { tx, workerId: settings.workerId, fixedLimit: at.fixedLimit, from: at.from });
    if ('events' in page && client.prepare) page.prepared = await client.prepare(tx, page.events, unit);
    return page;
  });
  // Observed by whoever takes or settles it; never an unhandled rejection meanwhile.
  reading.catch(() => {});
  return reading;
}

function takeReadAhead(unit: ConsumerUnit, fixedLimit: number | undefined): Promise<PageOrInterrupt> | undefined {
  const ahead = readAhead.get(unit);
  readAhead.delete(unit);
  // A batch of a fixed size (isolating a failure) reads its own page.
  return fixedLimit === undefined ? ahead?.page : undefined;
}

/** Drops the unit's page read ahead, if any: resolves once its read is over (a partition's loop waits for it before it ends, so no read outlives the store). */
export async function settleReadAhead(unit: ConsumerUnit): Promise<void> {
  const ahead = readAhead.get(unit);
  readAhead.delete(unit);
  await ahead?.page.catch(() => {});
}

async function readPage(
  client: AnyConsumerClient,
  unit: ConsumerUnit,
  { tx, workerId, fixedLimit, from: ahead }: { tx: EventStoreTransaction; workerId: string; fixedLimit: number | undefined; from?: bigint | undefined },
): Promise<PageOrInterrupt> {
  const state = await readPartition(tx, unit, workerId);
  if (!state?.mine || state.stopped) return { kind: 'lost' };
  // Read ahead: from where the batch being handled will move the checkpoint.
  const from = ahead ?? state.position;
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
  const { from, plan, events, next, full, prepared } = page;
  let result;
  try {
    result = await client.handle({ unit, events, plan, from, tx, prepared });
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
