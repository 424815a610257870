import { z } from 'zod';
import type { EventStore, EventStoreTransaction, RecordedEvent } from '../event-store/event-store.js';
import { parseInput } from '../validation.js';

/** What a handler gets besides its events. */
export interface ConsumerContext<Mode extends ConsumerMode> {
  /**
   * The batch's transaction (mode `transaction`): do the work in it, and it commits with
   * the checkpoint. Undefined in mode `at-least-once`.
   */
  tx: Mode extends 'transaction' ? EventStoreTransaction : undefined;
  /** The partition these events belong to. */
  partition: number;
  /** The store the consumer reads. */
  store: EventStore;
}

/**
 * `transaction`: the handler's database work commits with the checkpoint, exactly once.
 * `at-least-once`: the handler works outside the database (a broker, a webhook), then
 * the checkpoint commits; after a crash in between, the batch is handled again, so the
 * receiver dedupes by `event.id`.
 */
export type ConsumerMode = 'transaction' | 'at-least-once';

export interface ConsumerDefinition<Mode extends ConsumerMode = 'transaction'> {
  /** Unique in the store, across projections and consumers: the key of its checkpoints. */
  name: string;
  /** Bump when the handler changes meaning; workers share partitions per version (default 1). */
  version?: number;
  /** The event types to read (default: every type). */
  eventTypes?: readonly string[];
  /** The stream categories to read (default: every category). */
  categories?: readonly string[];
  /**
   * Partitions, processed in parallel by the workers that share them (default 1). Events
   * with the same key (default: the stream id) stay in one partition, in log order.
   */
  partitions?: number;
  /** The key that picks an event's partition (default: its stream id). */
  partitionKey?: (event: RecordedEvent) => string;
  /** Most events per batch (default 100). */
  batchSize?: number;
  mode?: Mode;
  /** The batch's transaction may append (a process manager's commands); default false. */
  appends?: boolean;
  /** Where a consumer new to the store starts: the beginning of the log (default) or its head now. */
  startAt?: 'beginning' | 'now';
  /** Handles one batch. A throw is retried with backoff, then dead-letters the event (or stops the partition). */
  handle(events: RecordedEvent[], context: ConsumerContext<Mode>): Promise<void>;
}

/** A consumer as the runtime uses it: the definition, checked, with its defaults. */
export interface Consumer<Mode extends ConsumerMode = ConsumerMode> {
  readonly name: string;
  readonly version: number;
  readonly eventTypes: readonly string[] | undefined;
  readonly categories: readonly string[] | undefined;
  readonly partitions: number;
  readonly batchSize: number;
  readonly mode: Mode;
  readonly appends: boolean;
  readonly startAt: 'beginning' | 'now';
  readonly definition: ConsumerDefinition<Mode>;
}

const nameSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\w.:-]+$/, { error: 'letters, digits and _ . : - only' });

const fn = (error = 'must be a function') => z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', { error });

const definitionSchema = z.object({
  name: nameSchema,
  version: z.number().int().min(1).max(2_147_483_647).optional(),
  eventTypes: z.array(z.string().min(1)).min(1).optional(),
  categories: z.array(z.string().min(1)).min(1).optional(),
  partitions: z.number().int().min(1).max(1024).optional(),
  partitionKey: fn('must be a function (event) => string').optional(),
  batchSize: z.number().int().min(1).max(100_000).optional(),
  mode: z.enum(['transaction', 'at-least-once']).optional(),
  appends: z.boolean().optional(),
  startAt: z.enum(['beginning', 'now']).optional(),
  handle: fn('must be a function (events, context) => Promise<void>'),
});

/**
 * Defines a consumer of the global log: a process manager, a relay, anything that
 * reacts to events. Run it with `runConsumers`, which shares its partitions between
 * processes under leases, moves its checkpoint, retries and dead-letters.
 *
 * @throws ValidationError naming the field (`consumer.name`, `consumer.partitions`, ...).
 *
 * @example
 * ```ts
 * const welcome = defineConsumer({
 *   name: 'welcome-mails',
 *   eventTypes: ['UserRegistered'],
 *   mode: 'at-least-once',
 *   handle: async (events) => { for (const event of events) await mailer.send(event.id, event.data); },
 * });
 * ```
 */
export function defineConsumer<Mode extends ConsumerMode = 'transaction'>(definition: ConsumerDefinition<Mode>): Consumer<Mode> {
  parseInput(definitionSchema, definition, 'consumer');
  return {
    name: definition.name,
    version: definition.version ?? 1,
    eventTypes: definition.eventTypes,
    categories: definition.categories,
    partitions: definition.partitions ?? 1,
    batchSize: definition.batchSize ?? 100,
    mode: definition.mode ?? ('transaction' as Mode),
    appends: definition.appends ?? false,
    startAt: definition.startAt ?? 'beginning',
    definition,
  };
}
