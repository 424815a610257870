import { z } from 'zod';
import type { EventStore, EventStoreTransaction } from '../event-store/event-store.js';
import { parseInput } from '../validation.js';
import { ValidationError } from '../errors.js';
import type { ConsumerClient } from './consumer-client.js';
import { ConsumerEngine } from './consumer-engine.js';
import type { Consumer } from './define-consumer.js';
import { silent, type ConsumerBatchReport, type ConsumerRunOptions } from './engine-options.js';
import { lockConsumer } from './lock-consumer.js';
import { partitionOfKey, partitionsByStream } from './partition-key.js';
import { isProjection } from './consumer-names.js';
import { ensurePartitions } from './partitions.js';

export interface RunConsumersOptions extends ConsumerRunOptions {
  /** Called after each committed batch (its checkpoint moved), e.g. to log progress. */
  onBatch?: (batch: ConsumerBatchReport) => void;
}

/** Consumers running in this process. */
export interface ConsumerRunner {
  readonly workerId: string;
  /**
   * Resolves once the runner has set its consumers up and claimed its share of their
   * partitions; while the database cannot be reached it keeps trying, with backoff. It
   * rejects only on what no retry cures (a name a projection holds, a changed partition
   * count, a closed store).
   */
  readonly ready: Promise<void>;
  /** Finishes (or rolls back) the batches in flight, releases ownership, stops. */
  stop(): Promise<void>;
}

export const runOptionsSchema = z
  .object({
    workerId: z.string().min(1).max(200).optional(),
    pollIntervalMs: z.number().int().min(10).max(600_000).optional(),
    leaseTtlMs: z.number().int().min(300).max(600_000).optional(),
    retries: z
      .object({
        attempts: z.number().int().min(1).max(100).optional(),
        minDelayMs: z.number().min(0).optional(),
        maxDelayMs: z.number().min(0).optional(),
      })
      .optional(),
    onFailure: z.enum(['dead-letter', 'stop']).optional(),
    logger: z.unknown().optional(),
    onBatch: z.unknown().optional(),
  })
  .optional();

/**
 * Runs consumers in this process: each one's partitions are shared fairly with the other
 * processes running it (a crashed one's are taken over within the lease), its batches
 * read from the checkpoint, and the checkpoint moves after the handler's work (in the
 * same transaction in mode `transaction`). A failing event is retried with backoff, then
 * dead-lettered or stops its partition.
 *
 * @example
 * ```ts
 * const runner = runConsumers(store, [orderProcess], { logger: pino() });
 * process.on('SIGTERM', () => runner.stop());
 * ```
 */
export function runConsumers(store: EventStore, consumers: readonly Consumer[], options: RunConsumersOptions = {}): ConsumerRunner {
  parseInput(runOptionsSchema, options, 'options');
  const names = new Set<string>();
  for (const [index, consumer] of consumers.entries()) {
    if (names.has(consumer.name)) throw new ValidationError([{ field: `consumers[${index}].name`, reason: `'${consumer.name}' is given twice` }]);
    names.add(consumer.name);
  }
  const engine = new ConsumerEngine(
    store,
    consumers.map((consumer) => consumerClient(store, consumer)),
    { ...options, logger: options.logger ?? silent, noun: 'consumer' },
  );
  return engine;
}

function consumerClient(store: EventStore, consumer: Consumer): ConsumerClient {
  const key = consumer.definition.partitionKey ?? ((event) => event.streamId);
  return {
    name: consumer.name,
    version: consumer.version,
    eventTypes: consumer.eventTypes,
    categories: consumer.categories,
    logPartitions: partitionsByStream(consumer.partitions, consumer.definition.partitionKey),
    mode: consumer.mode,
    appends: consumer.appends,
    setup: () => store.withTransaction((tx) => setupConsumer(tx, consumer), { appends: false }),
    claimable: async () => [1],
    plan: async () => ({ limit: consumer.batchSize, replaying: false }),
    select: (event, unit) => (consumer.partitions === 1 || partitionOfKey(key(event), consumer.partitions) === unit.partition ? event : undefined),
    handle: async ({ events, tx, unit }) => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      await consumer.definition.handle(events, { tx: tx as any, partition: unit.partition, store });
    },
  };
}

/**
 * Creates the consumer's partitions (at the log's head for `startAt: 'now'`), under the
 * lock projections take for their setup: one name, one consumer, whatever its kind.
 */
async function setupConsumer(tx: EventStoreTransaction, consumer: Consumer): Promise<void> {
  await lockConsumer(tx, consumer.name);
  if (await isProjection(tx, consumer.name)) {
    throw new ValidationError([{ field: 'consumer.name', reason: `'${consumer.name}' is a projection of this store; give the consumer a name of its own` }]);
  }
  const position = consumer.startAt === 'now' ? await tx.headPosition() : 0n;
  const partitions = await ensurePartitions(tx, { consumer: consumer.name, generation: 1, partitions: consumer.partitions, position });
  if (partitions !== consumer.partitions) {
    throw new ValidationError([
      {
        field: 'consumer.partitions',
        reason: `'${consumer.name}' has ${partitions} partitions in this store, not ${consumer.partitions}: a new count would move keys between partitions with their checkpoints behind; keep ${partitions}, or give the consumer a new name (it starts over)`,
      },
    ]);
  }
}
