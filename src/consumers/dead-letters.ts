import type { Selectable } from 'kysely';
import type { EventStoreTransaction } from '../event-store/event-store.js';
import { consumerTables as tables, now, type ConsumerDeadLettersTable } from './consumer-tables.js';
import type { ConsumerUnitKey } from './partitions.js';

/**
 * Every statement on the consumers' dead letters: recording one, listing them, and
 * marking one retried or skipped. What a retry applies is the consumer's business (a
 * consumer's handler runs on the event: consumer-dead-letters.ts; a projection applies it
 * into the generation it failed in: projections/dead-letters.ts); recording one together
 * with moving the checkpoint past it is partitions.ts' deadLetter.
 */

export type DeadLetterStatus = 'pending' | 'retried' | 'skipped';

/** A dead letter: an event a consumer's handler kept failing on, and what became of it. */
export interface ConsumerDeadLetter {
  id: string;
  consumer: string;
  generation: number;
  partition: number;
  globalPosition: bigint;
  eventId: string;
  streamId: string;
  streamVersion: number;
  eventType: string;
  error: string;
  stack: string | null;
  attempts: number;
  status: DeadLetterStatus;
  failedAt: Date;
  resolvedAt: Date | null;
}

/** The event and failure a dead letter records. */
export interface DeadLetterRecord {
  globalPosition: bigint;
  id: string;
  streamId: string;
  version: number;
  type: string;
  message: string;
  stack: string | null;
  attempts: number;
}


const toDeadLetter = (row: Selectable<ConsumerDeadLettersTable>): ConsumerDeadLetter => ({
  id: String(row.id),
  consumer: row.consumer,
  generation: row.generation,
  partition: row.partition,
  globalPosition: BigInt(row.global_position),
  eventId: row.event_id,
  streamId: row.stream_id,
  streamVersion: Number(row.stream_version),
  eventType: row.event_type,
  error: row.error_message,
  stack: row.error_stack,
  attempts: row.attempts,
  status: row.status,
  failedAt: new Date(row.failed_at),
  resolvedAt: row.resolved_at === null ? null : new Date(row.resolved_at),
});

/**
 * Inserts a dead letter (once per generation and position) without touching the
 * checkpoint: for a caller that moves past the event itself, or has no checkpoint to
 * move (an inline projection's owed event).
 */
export async function recordDeadLetter(tx: EventStoreTransaction, key: ConsumerUnitKey, event: DeadLetterRecord): Promise<void> {
  await tables(tx)
    .insertInto('consumer_dead_letters')
    .values({
      consumer: key.consumer,
      generation: key.generation,
      partition: key.partition,
      global_position: event.globalPosition.toString(),
      event_id: event.id,
      stream_id: event.streamId,
      stream_version: event.version,
      event_type: event.type,
      error_message: event.message,
      error_stack: event.stack,
      attempts: event.attempts,
    })
    .onConflict((oc) => oc.columns(['consumer', 'generation', 'global_position']).doNothing())
    .execute();
}

/** Dead letters oldest first: of one consumer, of some, or of all; of one status or all. */
export async function selectDeadLetters(
  tx: EventStoreTransaction,
  /** `after`: a dead letter's id, to page from (the letters with greater ids). */
  filter: { consumer: string | readonly string[] | undefined; status: DeadLetterStatus | 'all'; limit: number; after?: string },
): Promise<ConsumerDeadLetter[]> {
  const consumers = filter.consumer === undefined ? undefined : typeof filter.consumer === 'string' ? [filter.consumer] : [...filter.consumer];
  if (consumers?.length === 0) return [];
  const rows = await tables(tx)
    .selectFrom('consumer_dead_letters')
    .selectAll()
    .$if(consumers !== undefined, (q) => q.where('consumer', 'in', consumers!))
    .$if(filter.status !== 'all', (q) => q.where('status', '=', filter.status as DeadLetterStatus))
    .$if(filter.after !== undefined, (q) => q.where('id', '>', filter.after!))
    .orderBy('id')
    .limit(filter.limit)
    .execute();
  return rows.map(toDeadLetter);
}

/**
 * The dead letters of one generation of a consumer at global positions `from` to `to`
 * (inclusive) that were not retried (pending or skipped: either way their events are not
 * reflected), in position order: what a wait for a position checks (waitForProjections).
 */
export async function selectUnresolvedDeadLettersBetween(
  tx: EventStoreTransaction,
  key: { consumer: string; generation: number; from: bigint; to: bigint },
): Promise<ConsumerDeadLetter[]> {
  const rows = await tables(tx)
    .selectFrom('consumer_dead_letters')
    .selectAll()
    .where('consumer', '=', key.consumer)
    .where('generation', '=', key.generation)
    .where('global_position', '>=', key.from.toString())
    .where('global_position', '<=', key.to.toString())
    .where('status', '<>', 'retried')
    .orderBy('global_position')
    .execute();
  return rows.map(toDeadLetter);
}

/** How many dead letters of `consumer` are pending. */
export async function countPendingDeadLetters(tx: EventStoreTransaction, consumer: string): Promise<number> {
  const row = await tables(tx)
    .selectFrom('consumer_dead_letters')
    .select((eb) => eb.fn.countAll<string | bigint | number>().as('pending'))
    .where('consumer', '=', consumer)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(row?.pending ?? 0);
}

/** One dead letter by id, row-locked until the transaction ends with `forUpdate` (a retry applying it). */
export async function readDeadLetter(tx: EventStoreTransaction, id: string, options: { forUpdate?: boolean } = {}): Promise<ConsumerDeadLetter | undefined> {
  const row = await tables(tx)
    .selectFrom('consumer_dead_letters')
    .selectAll()
    .where('id', '=', id)
    .$if(options.forUpdate === true, (q) => q.forUpdate())
    .executeTakeFirst();
  return row && toDeadLetter(row);
}

/** Marks a dead letter retried (its event was applied again); undefined when there is no such id. */
export async function markDeadLetterRetried(tx: EventStoreTransaction, id: string): Promise<ConsumerDeadLetter | undefined> {
  const row = await tables(tx)
    .updateTable('consumer_dead_letters')
    .set({ status: 'retried', resolved_at: now })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  return row && toDeadLetter(row);
}

/** Marks a pending dead letter skipped; undefined when there is no such id or it is not pending. */
export async function markDeadLetterSkipped(tx: EventStoreTransaction, id: string): Promise<ConsumerDeadLetter | undefined> {
  const row = await tables(tx)
    .updateTable('consumer_dead_letters')
    .set({ status: 'skipped', resolved_at: now })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .returningAll()
    .executeTakeFirst();
  return row && toDeadLetter(row);
}
