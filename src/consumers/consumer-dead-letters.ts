import { z } from 'zod';
import type { EventStore, EventStoreTransaction, RecordedEvent } from '../event-store/event-store.js';
import { DeadLetterError, ValidationError } from '../errors.js';
import { parseInput } from '../validation.js';
import {
  markDeadLetterRetried,
  markDeadLetterSkipped,
  readDeadLetter,
  selectDeadLetters,
  type ConsumerDeadLetter,
  type DeadLetterStatus,
} from './dead-letters.js';
import { isProjection } from './consumer-names.js';
import type { Consumer } from './define-consumer.js';
import { hasPartitions, resumePartitions } from './partitions.js';

/**
 * What a user does with the dead letters of a consumer made with defineConsumer: list
 * them, retry one with the consumer's handler (after a fix), skip one, and let the
 * partitions a failure stopped run again. The statements are dead-letters.ts' and
 * partitions.ts'; a projection's retry applies into its generation instead
 * (projections/dead-letters.ts), and shares the id check and the skip from here.
 */

export interface ListConsumerDeadLettersOptions {
  /** Only this consumer's (default: every consumer's, projections' included). */
  consumer?: string;
  /** Only dead letters in this state (default `pending`). */
  status?: DeadLetterStatus | 'all';
  /** Most dead letters returned, oldest first (default 1,000). */
  limit?: number;
}

const listOptionsSchema = z
  .object({
    consumer: z.string().min(1).max(200).optional(),
    status: z.enum(['pending', 'retried', 'skipped', 'all']).optional(),
    limit: z.number().int().min(1).max(100_000).optional(),
  })
  .optional();

const nameSchema = z.string().min(1, { error: 'must name a consumer' }).max(200);

/**
 * Dead letters, oldest first: by default the pending ones of every consumer of the log.
 *
 * @throws ValidationError naming the option (`options.status`, `options.consumer`, `options.limit`).
 *
 * @example
 * ```ts
 * const pending = await listConsumerDeadLetters(store, { consumer: 'welcome-mails' });
 * for (const letter of pending) console.log(letter.id, letter.eventType, letter.error);
 * ```
 */
export async function listConsumerDeadLetters(store: EventStore, options: ListConsumerDeadLettersOptions = {}): Promise<ConsumerDeadLetter[]> {
  const parsed = parseInput(listOptionsSchema, options, 'options') ?? {};
  return store.withTransaction(
    (tx) => selectDeadLetters(tx, { consumer: parsed.consumer, status: parsed.status ?? 'pending', limit: parsed.limit ?? 1000 }),
    { appends: false },
  );
}

/**
 * Runs the consumer's handler again on a dead-lettered event (after fixing it), as the
 * engine would, and marks the dead letter retried. In mode `transaction` the handler
 * gets a transaction and the mark commits in it: both or neither. In mode
 * `at-least-once` the handler works outside any transaction and the mark follows once
 * it returned: a crash in between leaves the dead letter pending, so a second retry
 * delivers the event again (receivers dedupe by `event.id`), and it is never lost.
 * A handler that throws leaves the dead letter pending, and its error reaches the caller.
 *
 * Note: the event is handled after events that came later in the log.
 *
 * @throws DeadLetterError when the id is unknown, not pending, a projection's, or its
 * consumer is not among `consumers`, or its event is no longer in the log.
 * @throws ValidationError on `id` (digits) or `consumers`.
 *
 * @example
 * ```ts
 * const [letter] = await listConsumerDeadLetters(store, { consumer: 'welcome-mails' });
 * await retryConsumerDeadLetter(store, [welcomeMails], letter.id);
 * ```
 */
export async function retryConsumerDeadLetter(store: EventStore, consumers: readonly Consumer[], id: string): Promise<ConsumerDeadLetter> {
  const checkedId = parseDeadLetterId(id);
  const byName = consumersByName(consumers);
  // The consumer decides how its handler runs (in which transaction, whether it may
  // append), so the dead letter is looked up before the handler's transaction opens.
  const found = await store.withTransaction((tx) => pendingLetter(tx, checkedId, byName), { appends: false });
  if (found.consumer.mode === 'at-least-once') {
    // No transaction, and so no row lock, spans the handler's work outside the database:
    // the mark comes after it, whatever another retry or a skip did meanwhile, since the
    // event has now been delivered.
    await runHandler(found, { tx: undefined, store });
    return store.withTransaction(async (tx) => (await markDeadLetterRetried(tx, checkedId))!, { appends: false });
  }
  return store.withTransaction(
    async (tx) => {
      // Again, row-locked: a second retry or a skip in between waits for this one, then finds it resolved.
      const locked = await pendingLetter(tx, checkedId, byName, { forUpdate: true });
      await runHandler(locked, { tx, store });
      return (await markDeadLetterRetried(tx, checkedId))!;
    },
    { appends: found.consumer.appends },
  );
}

/**
 * Gives up on a dead letter of any consumer (projections' included): it stays listed,
 * status `skipped`, and its event is never handled.
 *
 * @throws DeadLetterError when the id is unknown or not pending.
 * @throws ValidationError on `id` (digits).
 *
 * @example
 * ```ts
 * await skipConsumerDeadLetter(store, '42');
 * ```
 */
export async function skipConsumerDeadLetter(store: EventStore, id: string): Promise<ConsumerDeadLetter> {
  const checkedId = parseDeadLetterId(id);
  return store.withTransaction(
    async (tx) => {
      const skipped = await markDeadLetterSkipped(tx, checkedId);
      if (skipped) return skipped;
      const existing = await readDeadLetter(tx, checkedId);
      throw new DeadLetterError(checkedId, existing ? `it is already ${existing.status}` : 'no such dead letter');
    },
    { appends: false },
  );
}

/**
 * Lets the partitions of a consumer that a failure stopped (`onFailure: 'stop'`) run
 * again, after fixing its handler: the running workers claim them on their next round,
 * from the checkpoint before the event that stopped them. Returns how many were stopped.
 *
 * @throws ValidationError on `name` when it is empty or no consumer of that name has run in the store.
 *
 * @example
 * ```ts
 * const resumed = await resumeConsumer(store, 'welcome-mails'); // 1
 * ```
 */
export async function resumeConsumer(store: EventStore, name: string): Promise<number> {
  const checked = parseInput(nameSchema, name, 'name');
  return store.withTransaction(
    async (tx) => {
      const resumed = await resumePartitions(tx, checked);
      // Zero is the answer for a consumer with nothing stopped; for a name no consumer has
      // run under (a typo), it would hide that nothing was resumed.
      if (resumed === 0 && !(await hasPartitions(tx, checked))) {
        throw new ValidationError([{ field: 'name', reason: `no consumer named '${checked}' has run in this store` }]);
      }
      return resumed;
    },
    { appends: false },
  );
}

/**
 * A dead letter's id as the API takes it: a string of digits (ids are int8, past 2^53,
 * so never a number).
 *
 * @throws ValidationError on `id`.
 */
export function parseDeadLetterId(id: unknown): string {
  if (typeof id !== 'string' || !/^\d{1,18}$/.test(id)) throw new ValidationError([{ field: 'id', reason: 'must be a dead letter id (digits)' }]);
  return id;
}

interface FoundLetter {
  letter: ConsumerDeadLetter;
  consumer: Consumer;
  event: RecordedEvent;
}

function consumersByName(consumers: readonly Consumer[]): Map<string, Consumer> {
  if (!Array.isArray(consumers)) throw new ValidationError([{ field: 'consumers', reason: 'must be an array of consumers made with defineConsumer' }]);
  const byName = new Map<string, Consumer>();
  for (const [index, consumer] of consumers.entries()) {
    if (typeof consumer?.name !== 'string' || typeof consumer.definition?.handle !== 'function') {
      throw new ValidationError([{ field: `consumers[${index}]`, reason: 'must be a consumer made with defineConsumer' }]);
    }
    if (byName.has(consumer.name)) throw new ValidationError([{ field: `consumers[${index}].name`, reason: `'${consumer.name}' is given twice` }]);
    byName.set(consumer.name, consumer);
  }
  return byName;
}

/** The pending dead letter `id`, the consumer among `byName` it belongs to, and its event. */
async function pendingLetter(
  tx: EventStoreTransaction,
  id: string,
  byName: ReadonlyMap<string, Consumer>,
  options: { forUpdate?: boolean } = {},
): Promise<FoundLetter> {
  const letter = await readDeadLetter(tx, id, options);
  if (!letter) throw new DeadLetterError(id, 'no such dead letter');
  if (letter.status !== 'pending') throw new DeadLetterError(id, `it is already ${letter.status}`);
  // A projection's event is applied into the generation it failed in, not handed to a
  // handler: a consumer given under a projection's name must not get it.
  if (await isProjection(tx, letter.consumer)) {
    throw new DeadLetterError(id, `it is projection '${letter.consumer}''s; retry it with retryDeadLetter`);
  }
  const consumer = byName.get(letter.consumer);
  if (!consumer) {
    const given = [...byName.keys()].join(', ') || 'none';
    throw new DeadLetterError(id, `it is consumer '${letter.consumer}''s, which is not among the consumers given (${given})`);
  }
  const [event] = await tx.readEventsById([letter.eventId]);
  if (!event) throw new DeadLetterError(id, `event ${letter.eventId} is no longer in the log`);
  return { letter, consumer, event };
}

/** Calls the handler as the engine does for a batch of one event of the dead letter's partition. */
async function runHandler(found: FoundLetter, context: { tx: EventStoreTransaction | undefined; store: EventStore }): Promise<void> {
  await found.consumer.definition.handle([found.event], { tx: context.tx, partition: found.letter.partition, store: context.store });
}
