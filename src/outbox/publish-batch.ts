import { backoffDelay, sleep } from '../backoff.js';
import { BatchFault, type ConsumerUnit, type LogEvent } from '../consumers/consumer-client.js';
import type { ConsumerLogger } from '../consumers/engine-options.js';
import type { EventStore, EventStoreTransaction } from '../event-store/event-store.js';
import { PublishError } from '../errors/outbox-errors.js';
import type { Outbox } from './define-outbox.js';
import type { OutboxMessage } from './message.js';
import { holdIfLaneHeld, laneKey, park, type LaneMessage } from './parked-table.js';
import { describe, type Routed } from './routing.js';

/**
 * What the relay reports as it goes, so a process can expose it (the service's
 * Prometheus counters: `outboxRelayMetrics` in 'annals/server'). Each method is
 * optional, called synchronously on the relay's path: keep it cheap. One that throws is
 * logged and otherwise ignored: metrics never stop a relay.
 */
export interface OutboxRelayMetrics {
  /** The destination acknowledged a message. */
  published?(message: { outbox: string; destination: string }): void;
  /**
   * An attempt at publishing a message failed. `retryable`: a failure the relay retries
   * (it may still park the message after its last attempt); false when the publisher
   * said no retry can help (a PublishError with `retryable: false`): parked at once.
   */
  failed?(failure: { outbox: string; destination: string; error: unknown; retryable: boolean }): void;
  /** A message was parked (its key is held from now on): refused, out of attempts, or its payload failed the route's schema. */
  parked?(message: { outbox: string; destination: string }): void;
}

/** An event of the relay's batch: where it is in the log, and the messages it gives. */
export interface RelayEvent extends LogEvent {
  routed: Routed[];
}

export interface RelayRetries {
  /** Attempts at a message before it may be parked (default 10). */
  attempts: number;
  minDelayMs: number;
  maxDelayMs: number;
}

/**
 * Per destination, how many publishes went through in this process: a message that
 * keeps failing is parked only if its destination accepted others just before its last attempt. While none
 * goes through, the broker is taken as down, and every message waits, retried with
 * backoff, instead of the whole backlog being parked by an outage.
 */
export class DestinationHealth {
  readonly #published = new Map<string, number>();
  published(destination: string): void {
    this.#published.set(destination, this.count(destination) + 1);
  }
  count(destination: string): number {
    return this.#published.get(destination) ?? 0;
  }
}

export interface PublishSettings {
  store: EventStore;
  outbox: Outbox;
  retries: RelayRetries;
  log: ConsumerLogger;
  /** Aborted when the relay stops: retries end, the batch ends without moving its checkpoint. */
  stopping: AbortSignal;
  health: DestinationHealth;
  /** This relay's worker id in the engine's leases: parks and holds are fenced by it. */
  workerId: string;
  /** Most lanes (keys) publishing at once in one partition's batch. */
  concurrency: number;
  metrics: OutboxRelayMetrics | undefined;
}

type Outcome = { kind: 'published' } | { kind: 'parked'; error: unknown; attempts: number } | { kind: 'interrupted' };

/**
 * The lanes each partition's relay parked or held a message of since its current batch
 * began: the next batch's `lanesWithRows` was read while this one published (read
 * ahead), so it may not show them yet.
 */
const parkedSince = new WeakMap<ConsumerUnit, Set<string>>();

/**
 * Publishes a batch's messages: the lanes (destination and key) concurrently, each
 * lane's messages one at a time in log order, the next only once the previous was
 * acknowledged or parked. `withRows`: the lanes with parked rows when the batch was read
 * (lanesWithRows). Returns 'done' when every message is published, parked or held (the
 * checkpoint may move), or why not: the partition was lost, or the relay stops while a
 * message is still failing (the batch runs again from the checkpoint).
 */
export async function publishBatch(
  events: readonly RelayEvent[],
  unit: ConsumerUnit,
  settings: PublishSettings,
  withRows: ReadonlySet<string>,
): Promise<'done' | 'lost' | 'interrupted'> {
  const lanes = new Map<string, { event: RelayEvent; routed: Routed }[]>();
  for (const event of events) {
    for (const routed of event.routed) {
      const lane = laneKey(routed);
      let items = lanes.get(lane);
      if (!items) lanes.set(lane, (items = []));
      items.push({ event, routed });
    }
  }
  // Parks of the previous batch that this batch's lanesWithRows, read ahead, may have missed.
  const checked = new Set([...withRows, ...(parkedSince.get(unit) ?? [])]);
  const parked = new Set<string>();
  parkedSince.set(unit, parked);
  const batch = { interrupted: false, parked };
  const queue = [...lanes];
  const failures: unknown[] = [];
  // At most `concurrency` lanes at once, each lane to its end. Every lane ends before the
  // batch does, even when one fails: a lane still publishing while the batch runs again
  // would publish its key twice at once, out of order.
  const workers = Array.from({ length: Math.min(settings.concurrency, queue.length) }, async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const [lane, items] = next;
      await publishLane(items, unit, settings, { batch, checked: checked.has(lane) }).catch((error: unknown) => {
        batch.interrupted = true;
        failures.push(error);
      });
    }
  });
  await Promise.all(workers);
  if (failures.length > 0) throw failures[0];
  if (unit.lost) return 'lost';
  return batch.interrupted ? 'interrupted' : 'done';
}

async function publishLane(
  items: readonly { event: RelayEvent; routed: Routed }[],
  unit: ConsumerUnit,
  settings: PublishSettings,
  state: { batch: { interrupted: boolean; parked: Set<string> }; checked: boolean },
): Promise<void> {
  const { outbox, store, log } = settings;
  const { batch } = state;
  // A lane with parked rows is checked message by message, under its lock; the others
  // only from their first park on (lanesWithRows).
  let checked = state.checked;
  const owner = { consumer: outbox.consumerName, partition: unit.partition, workerId: settings.workerId };
  // The row a park or hold writes; made only then (not per message published).
  const laneMessage = (event: RelayEvent, routed: Routed): LaneMessage => ({
    outbox: outbox.name,
    destination: routed.destination,
    key: routed.key,
    messageId: routed.messageId,
    globalPosition: event.globalPosition,
    eventId: event.id,
    eventType: event.type,
  });
  for (const { event, routed } of items) {
    if (batch.interrupted || unit.lost) return;
    const decision = checked ? await database(store, (tx) => holdIfLaneHeld(tx, laneMessage(event, routed), owner)) : 'publish';
    if (decision === 'lost') {
      unit.lost = true;
      return;
    }
    if (decision === 'hold') {
      batch.parked.add(laneKey(routed));
      log.warn({ outbox: outbox.name, destination: routed.destination, key: routed.key, position: String(event.globalPosition) }, 'outbox message held behind a parked one');
    }
    if (decision !== 'publish') continue;
    const outcome: Outcome = routed.error ? { kind: 'parked', error: routed.error, attempts: 1 } : await publishWithRetries(routed.message, unit, settings);
    if (outcome.kind === 'interrupted') {
      batch.interrupted = true;
      return;
    }
    if (outcome.kind === 'parked') {
      checked = true;
      batch.parked.add(laneKey(routed));
      if (!(await database(store, (tx) => park(tx, laneMessage(event, routed), owner, { error: describe(outcome.error), attempts: outcome.attempts })))) {
        unit.lost = true;
        return;
      }
      log.error({ err: outcome.error, outbox: outbox.name, destination: routed.destination, key: routed.key, messageId: routed.messageId }, 'outbox message parked; its key is held');
      report(settings, 'parked', { outbox: outbox.name, destination: routed.destination });
    }
  }
}

/**
 * One message, tried until acknowledged. A PublishError that says a retry cannot help
 * parks it at once; any other failure is retried with backoff, and parks it after the
 * last attempt only if the destination took other messages between its previous failure and that attempt (DestinationHealth).
 * The engine's own retry is not used: it would go on one event at a time and dead-letter
 * the event, moving past it, where the relay must hold its key.
 */
async function publishWithRetries(message: OutboxMessage, unit: ConsumerUnit, settings: PublishSettings): Promise<Outcome> {
  const { outbox, retries, log, stopping, health } = settings;
  const publisher = outbox.destinations.get(message.destination)!.publisher;
  // What the destination had taken when this message last failed. Others taken after that
  // and before its next attempt began mean the destination was up when it was tried, so a
  // failure then is the message's own. Anything looser parks what an outage failed: a
  // publish sent during the outage that times out only after the broker came back, while
  // others are acknowledged, or publishes in flight when the outage began that finish after
  // a message's first failure.
  let takenAtFailure = health.count(message.destination);
  for (let attempt = 1; ; attempt++) {
    const upWhenTried = health.count(message.destination) > takenAtFailure;
    try {
      await publisher.publish(message);
      health.published(message.destination);
      report(settings, 'published', { outbox: outbox.name, destination: message.destination });
      return { kind: 'published' };
    } catch (error) {
      const retryable = !(error instanceof PublishError && !error.retryable);
      report(settings, 'failed', { outbox: outbox.name, destination: message.destination, error, retryable });
      if (!retryable) return { kind: 'parked', error, attempts: attempt };
      if (attempt >= retries.attempts && upWhenTried) return { kind: 'parked', error, attempts: attempt };
      // Attempts 1, 2, 4, 8...: an outage of minutes logs a few lines per message, not one every backoff.
      if ((attempt & (attempt - 1)) === 0) {
        log.warn({ err: error, outbox: outbox.name, destination: message.destination, messageId: message.id, attempt }, 'outbox publish failed; retrying');
      }
      if (stopping.aborted || unit.lost) return { kind: 'interrupted' };
      takenAtFailure = health.count(message.destination);
      await sleep(backoffDelay(attempt, retries), stopping);
      if (stopping.aborted || unit.lost) return { kind: 'interrupted' };
    }
  }
}

/** Calls one method of the metrics hook, if given; what it throws is logged, never the relay's failure. */
function report<Name extends keyof OutboxRelayMetrics>(settings: PublishSettings, name: Name, argument: Parameters<NonNullable<OutboxRelayMetrics[Name]>>[0]): void {
  const method = settings.metrics?.[name] as ((argument: unknown) => void) | undefined;
  if (!method) return;
  try {
    method.call(settings.metrics, argument);
  } catch (error) {
    settings.log.warn({ err: error, outbox: settings.outbox.name }, `outbox relay metrics: ${name} threw; ignored`);
  }
}

/** The relay's own statements: a fault in them is the database's, never the message's (the engine backs off and runs the batch again). */
async function database<T>(store: EventStore, work: (tx: EventStoreTransaction) => Promise<T>): Promise<T> {
  try {
    return await store.withTransaction(work, { appends: false });
  } catch (error) {
    throw new BatchFault(error);
  }
}
