import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import type { ConsumerClient } from '../consumers/consumer-client.js';
import { ConsumerEngine } from '../consumers/consumer-engine.js';
import { isProjection } from '../consumers/consumer-names.js';
import { silent, type ConsumerBatchReport, type ConsumerLogger } from '../consumers/engine-options.js';
import { lockConsumer } from '../consumers/lock-consumer.js';
import { partitionOfKey } from '../consumers/partition-key.js';
import { ensurePartitions } from '../consumers/partitions.js';
import type { EventStore, EventStoreTransaction } from '../event-store/event-store.js';
import { ValidationError } from '../errors.js';
import { parseInput } from '../validation.js';
import type { Outbox } from './define-outbox.js';
import { DestinationHealth, publishBatch, type OutboxRelayMetrics, type RelayEvent, type RelayRetries } from './publish-batch.js';
import { lanesWithRows } from './parked-table.js';
import { orderingKeyOf, routeEvent } from './routing.js';

export type { OutboxRelayMetrics } from './publish-batch.js';

export interface OutboxRelayOptions {
  /** This process's name in leases and status (default: host, pid and a random suffix). */
  workerId?: string;
  /** Longest wait for new events when no notification arrives (default 1,000 ms). */
  pollIntervalMs?: number;
  /** How long a partition stays owned without a heartbeat (default 5,000 ms). */
  leaseTtlMs?: number;
  /** Publish attempts before a failing message may be parked, and the backoff between them (default 10 attempts, 100 ms to 10 s). */
  retries?: Partial<RelayRetries>;
  /** Most keys publishing at once in one partition's batch (default 32): each key still one message at a time. */
  concurrency?: number;
  /** Close the outbox's publishers when the relay stops (default true). */
  closePublishers?: boolean;
  logger?: ConsumerLogger;
  /** Called after each batch whose checkpoint moved. */
  onBatch?: (batch: ConsumerBatchReport) => void;
  /** Told of each message published, each failed attempt and each park: for metrics (`outboxRelayMetrics(service.app)` from 'annals/server'). */
  metrics?: OutboxRelayMetrics;
}

/** An outbox relay running in this process. */
export interface OutboxRelay {
  readonly workerId: string;
  /** Resolves once the relay is set up and has claimed its share of the partitions. */
  readonly ready: Promise<void>;
  /** Finishes the batches in flight (a message still failing ends its batch, to run again from the checkpoint), releases the partitions, closes the publishers. */
  stop(): Promise<void>;
}

const optionsSchema = z
  .object({
    workerId: z.string().min(1).max(200).optional(),
    pollIntervalMs: z.number().int().min(10).max(600_000).optional(),
    leaseTtlMs: z.number().int().min(300).max(600_000).optional(),
    retries: z
      .object({ attempts: z.number().int().min(1).max(1000).optional(), minDelayMs: z.number().min(0).optional(), maxDelayMs: z.number().min(0).optional() })
      .optional(),
    concurrency: z.number().int().min(1).max(10_000).optional(),
    closePublishers: z.boolean().optional(),
    logger: z.unknown().optional(),
    onBatch: z.unknown().optional(),
    metrics: z
      .custom<OutboxRelayMetrics>((value) => typeof value === 'object' && value !== null, { error: 'must be an object of optional methods published, failed, parked' })
      .optional(),
  })
  .optional();

/**
 * Runs the outbox's relay: a consumer of the global log (mode at-least-once) whose
 * partitions, by ordering key, are shared under leases with the other processes running
 * it. Each batch publishes its messages concurrently across keys and one at a time
 * within a key; the checkpoint moves once every one is acknowledged or parked.
 *
 * @example
 * ```ts
 * const relay = runOutboxRelay(store, outbox, { logger: pino() });
 * await relay.ready;
 * process.once('SIGTERM', () => void relay.stop().then(() => store.close()));
 * ```
 */
export function runOutboxRelay(store: EventStore, outbox: Outbox, options: OutboxRelayOptions = {}): OutboxRelay {
  parseInput(optionsSchema, options, 'options');
  const retries: RelayRetries = { attempts: 10, minDelayMs: 100, maxDelayMs: 10_000, ...options.retries };
  const stopping = new AbortController();
  const logger = options.logger ?? silent;
  // Chosen here, not by the engine: the relay fences its parks by it (parked-table.ts).
  const workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const settings = { store, outbox, retries, log: logger, stopping: stopping.signal, health: new DestinationHealth(), workerId, concurrency: options.concurrency ?? 32, metrics: options.metrics };
  const engine = new ConsumerEngine(store, [relayClient(settings)], {
    workerId,
    ...(options.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.pollIntervalMs }),
    ...(options.leaseTtlMs === undefined ? {} : { leaseTtlMs: options.leaseTtlMs }),
    ...(options.onBatch === undefined ? {} : { onBatch: options.onBatch }),
    // The relay never throws for a message (it parks it); what reaches the engine is a
    // fault of the relay's own code, and skipping the event would lose it: stop instead.
    retries: { attempts: 3, minDelayMs: retries.minDelayMs, maxDelayMs: retries.maxDelayMs },
    onFailure: 'stop',
    logger,
    noun: 'outbox relay',
  });
  let stopped: Promise<void> | undefined;
  return {
    workerId: engine.workerId,
    ready: engine.ready,
    stop: () =>
      (stopped ??= (async () => {
        stopping.abort();
        await engine.stop();
        if (options.closePublishers !== false) await outbox.close();
      })()),
  };
}

function relayClient(settings: Parameters<typeof publishBatch>[2]): ConsumerClient<RelayEvent> {
  const { store, outbox } = settings;
  return {
    name: outbox.consumerName,
    version: 1,
    eventTypes: outbox.filter.eventTypes,
    categories: outbox.filter.categories,
    logPartitions: outbox.partitions > 1 ? { count: outbox.partitions, key: 'ordering' } : undefined,
    mode: 'at-least-once',
    appends: false,
    setup: () => store.withTransaction((tx) => setupRelay(tx, outbox), { appends: false }),
    claimable: async () => [1],
    plan: async () => ({ limit: outbox.batchSize, replaying: false }),
    select: (event, unit) => {
      if (outbox.partitions > 1 && partitionOfKey(orderingKeyOf(event), outbox.partitions) !== unit.partition) return undefined;
      const routed = routeEvent(outbox, event);
      if (routed.length === 0) return undefined;
      return { id: event.id, type: event.type, streamId: event.streamId, version: event.version, globalPosition: event.globalPosition, routed };
    },
    // The next page is read (with its parked lanes) while this one publishes: a partition
    // keeps publishing instead of waiting on the database between its batches.
    readAhead: true,
    prepare: (tx, events) => lanesWithRows(tx, outbox.name, events.flatMap((event) => event.routed)),
    handle: async ({ events, unit, prepared }) => {
      const outcome = await publishBatch(events, unit, settings, prepared as Set<string>);
      if (outcome === 'lost') return { kind: 'lost' };
      if (outcome === 'interrupted') return { kind: 'release' };
      return undefined;
    },
  };
}

/** The relay's partitions, under the lock every consumer's setup takes (one name, one consumer). */
async function setupRelay(tx: EventStoreTransaction, outbox: Outbox): Promise<void> {
  const name = outbox.consumerName;
  await lockConsumer(tx, name);
  if (await isProjection(tx, name)) throw new ValidationError([{ field: 'outbox.name', reason: `'${name}' is a projection of this store` }]);
  const position = outbox.startAt === 'now' ? await tx.headPosition() : 0n;
  const partitions = await ensurePartitions(tx, { consumer: name, generation: 1, partitions: outbox.partitions, position });
  if (partitions !== outbox.partitions) {
    throw new ValidationError([
      {
        field: 'outbox.partitions',
        reason: `'${outbox.name}' has ${partitions} partitions in this store, not ${outbox.partitions}: a new count would move keys (and their held messages) between partitions; keep ${partitions}`,
      },
    ]);
  }
}
