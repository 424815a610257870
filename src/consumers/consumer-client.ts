import type { EventStoreTransaction, RecordedEvent } from '../event-store/event-store.js';
import type { ConsumerUnitKey } from './partitions.js';

/**
 * What the engine asks of each kind of consumer (a projection, a process manager, the
 * outbox relay, a subscription). The engine owns the loop: leases and membership, the
 * batch's transaction and the fenced checkpoint, retries, dead letters and stops. A
 * client says what to read, how to decode it, which partition an event belongs to, and
 * what to do with a batch.
 */

/**
 * Thrown by a client for a failure of its own statements before or around its handlers
 * (not of the events): the engine backs off and retries the batch, and never blames,
 * retries-to-dead-letter or stops for it.
 */
export class BatchFault extends Error {
  constructor(readonly fault: unknown) {
    super('consumer batch failed before its handlers ran', { cause: fault });
  }
}

/** A partition as the engine runs it. */
export interface ConsumerUnit extends ConsumerUnitKey {
  /** Set when the partition was lost (another owner, a retired generation): the loop ends without releasing. */
  lost: boolean;
  /** Set when this worker holds more than its share: the loop ends and releases. */
  release: boolean;
  /** Events per batch over the last seconds, for the throughput figure. */
  recent: { at: number; events: number }[];
}

/** What a client decides before a batch reads the log. */
export interface BatchPlan {
  /** Most events read. */
  limit: number;
  /** The batch replays history (reported in status and onBatch; handlers may skip side effects). */
  replaying: boolean;
}

/** The batch must not go on: the partition is another's (`lost`), or no longer this worker's to process (`release`). */
export type Interrupt = { kind: 'lost' } | { kind: 'release' };

/** The checkpoint was moved by someone else (a switch's drain): the batch starts over from `position`. */
export interface Restart {
  kind: 'restart';
  position: bigint;
}

/** One batch handed to a client. */
export interface ConsumerBatch<Event, Plan extends BatchPlan> {
  unit: ConsumerUnit;
  /** The events of this unit's partition, decoded, in log order. */
  events: Event[];
  plan: Plan;
  /** The checkpoint the batch started from. */
  from: bigint;
  /**
   * The batch's transaction (mode 'transaction'): the checkpoint moves in it, after the
   * client's work, so both commit or neither does. Undefined in mode 'at-least-once'.
   */
  tx: EventStoreTransaction | undefined;
  /** What the client's `prepare` returned for these events (mode 'at-least-once'). */
  prepared?: unknown;
}

/** Where an event sits in the log: what the engine needs of any decoded event (a dead letter names it). */
export interface LogEvent {
  id: string;
  type: string;
  streamId: string;
  version: number;
  globalPosition: bigint;
}

export interface ConsumerClient<Event extends LogEvent = RecordedEvent, Plan extends BatchPlan = BatchPlan> {
  /** The consumer's name: unique in a store across every kind of consumer. */
  readonly name: string;
  /** The client code's version: workers share a consumer's partitions per version. */
  readonly version: number;
  /** The event types to read (undefined: every type). */
  readonly eventTypes?: readonly string[] | undefined;
  /** The stream categories to read (undefined: every category). */
  readonly categories?: readonly string[] | undefined;
  /**
   * How events fall into partitions, when Postgres can tell it (by stream id, or by the
   * outbox's ordering key): each partition's batches then read only its own events
   * (readAll's `partition`), where otherwise every partition reads every event and
   * `select` drops the others'. Undefined: `select` alone decides (a key computed from
   * the decoded event). `select` must agree with it.
   */
  readonly logPartitions?: { count: number; key: 'stream' | 'ordering' } | undefined;
  /**
   * `transaction`: the work is done in the batch's transaction, with the checkpoint
   * (exactly once for database work). `at-least-once`: the work is done outside the
   * database (a broker, a socket), then the checkpoint is committed; a crash in between
   * repeats the batch, so receivers dedupe by event id.
   */
  readonly mode: 'transaction' | 'at-least-once';
  /**
   * The batch's transaction may append (a process manager's commands). Off by default:
   * a transaction that may append holds back the log's readers while it runs
   * (docs/global-log.md), so only a consumer that appends opens one.
   */
  readonly appends?: boolean;
  /** Before the first round, and retried while the database is unreachable: create what the consumer needs. */
  setup(): Promise<void>;
  /** Each round: the generations this code may process, in claim order (none: nothing to do now). */
  claimable(): Promise<readonly number[]>;
  /** Each round, after claiming: maintenance of the client's own (optional). */
  afterRound?(): Promise<void>;
  /**
   * Before a batch reads the log, in its transaction (which holds the partition row's
   * state as of its start): how much to read, or why not to go on.
   */
  plan(tx: EventStoreTransaction, unit: ConsumerUnit, at: { from: bigint; fixedLimit: number | undefined }): Promise<Plan | Interrupt>;
  /**
   * The event as the client's handlers see it, when it belongs to `unit`'s partition
   * (undefined otherwise). A throw blames the event: it is retried, then dead-lettered.
   * A client that can tell the partition from the stored event checks it first, so an
   * event no other partition can decode does not fail them all.
   */
  select(event: RecordedEvent, unit: ConsumerUnit): Event | undefined;
  /**
   * Mode 'at-least-once', optional: in the read's transaction, after `select`, what
   * `handle` needs from the database about the batch's events (the outbox relay: which
   * keys have parked messages), handed to it as `batch.prepared`. With `readAhead` it
   * runs while the previous batch is still being handled: what that batch changes is the
   * client's to carry over.
   */
  prepare?(tx: EventStoreTransaction, events: Event[], unit: ConsumerUnit): Promise<unknown>;
  /**
   * Mode 'at-least-once', optional: read the next page while `handle` works on this one,
   * when this one was full (a backlog), so a batch starts as soon as the previous one's
   * checkpoint moved. A partition then holds two pages in memory.
   */
  readonly readAhead?: boolean;
  /** The work of one batch (may be empty: the checkpoint still moves past events of other types). */
  handle(batch: ConsumerBatch<Event, Plan>): Promise<void | Interrupt | Restart>;
  /** After a batch that caught up with the log's head: release the partition, or go on (optional). */
  caughtUp?(unit: ConsumerUnit, plan: Plan): Promise<'continue' | 'release'>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyConsumerClient = ConsumerClient<any, any>;
