import { z } from 'zod';
import type { EventStore, EventStoreTransaction } from '../event-store/event-store.js';
import { ValidationError } from '../errors.js';
import { parseInput } from '../validation.js';
import type { Outbox } from './define-outbox.js';
import { lockLane, parkedTable, type Lane, type ParkedStatus } from './parked-table.js';
import { describe, routeEvent } from './routing.js';

/** A message the relay could not publish (`parked`), or one kept behind it (`held`), and what became of it. */
export interface ParkedMessage {
  /** The row's id: pass it to retryParkedMessage / skipParkedMessage. */
  id: string;
  outbox: string;
  destination: string;
  messageId: string;
  key: string;
  globalPosition: bigint;
  eventId: string;
  eventType: string;
  status: ParkedStatus;
  /** The last error (null for a held message never tried). */
  error: string | null;
  attempts: number;
  parkedAt: Date;
  resolvedAt: Date | null;
}

/** What a retry or a skip published: the lane's messages, in order, until one failed again. */
export interface ReleaseResult {
  /** Messages published (and marked `published`). */
  published: number;
  /** The message that failed again, parked now with this error: the key stays held behind it. */
  failed?: { id: string; error: string };
}

export interface ListParkedOptions {
  /** 'unresolved' (default: parked and held), one status, or 'all'. */
  status?: 'unresolved' | ParkedStatus | 'all';
  destination?: string;
  key?: string;
  /** Most rows (default 1,000). */
  limit?: number;
}

const listSchema = z
  .object({
    status: z.enum(['unresolved', 'parked', 'held', 'published', 'skipped', 'all']).optional(),
    destination: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
    limit: z.number().int().min(1).max(100_000).optional(),
  })
  .optional();

const idSchema = z.string().regex(/^\d{1,18}$/, { error: 'must be the digits of a parked message id' });

/**
 * The outbox's parked and held messages, in log order (the order a retry publishes them).
 *
 * @example
 * ```ts
 * for (const parked of await listParkedMessages(store, outbox)) console.log(parked.id, parked.key, parked.status, parked.error);
 * ```
 */
export async function listParkedMessages(store: EventStore, outbox: Outbox, options: ListParkedOptions = {}): Promise<ParkedMessage[]> {
  parseInput(listSchema, options, 'options');
  const status = options.status ?? 'unresolved';
  return store.withTransaction(
    async (tx) => {
      let query = parkedTable(tx).selectFrom('outbox_parked_messages').selectAll().where('outbox', '=', outbox.name);
      if (status === 'unresolved') query = query.where('status', 'in', ['parked', 'held']);
      else if (status !== 'all') query = query.where('status', '=', status);
      if (options.destination !== undefined) query = query.where('destination', '=', options.destination);
      if (options.key !== undefined) query = query.where('key', '=', options.key);
      const rows = await query.orderBy('global_position').orderBy('id').limit(options.limit ?? 1000).execute();
      return rows.map(
        (row): ParkedMessage => ({
          id: String(row.id),
          outbox: row.outbox,
          destination: row.destination,
          messageId: row.message_id,
          key: row.key,
          globalPosition: BigInt(row.global_position),
          eventId: row.event_id,
          eventType: row.event_type,
          status: row.status,
          error: row.error,
          attempts: row.attempts,
          parkedAt: row.parked_at,
          resolvedAt: row.resolved_at,
        }),
      );
    },
    { appends: false },
  );
}

/**
 * Publishes the key's parked and held messages again, in log order, from the first:
 * the event is read from the log and mapped with the outbox as defined now (a fixed
 * mapping takes effect). Once all are published the key is released: the relay
 * publishes its later messages itself. `id` may be any unresolved message of the key.
 * The key stays locked meanwhile, so the relay's next message of that key waits for the
 * retry, and two retries (or a retry and a skip) run one after the other.
 *
 * @throws ValidationError (`id`) when there is no such message, or it is resolved already.
 */
export async function retryParkedMessage(store: EventStore, outbox: Outbox, id: string): Promise<ReleaseResult> {
  parseInput(idSchema, id, 'id');
  return store.withTransaction(async (tx) => {
    const lane = await lockUnresolved(tx, outbox, id);
    return releaseLane(tx, outbox, lane);
  }, { appends: false });
}

/**
 * Gives up on one message: it is marked `skipped` and never published. When it was the
 * key's parked message, the messages held behind it are then published in order, as by
 * a retry, and the key is released; a held message is only marked.
 *
 * @throws ValidationError (`id`) when there is no such message, or it is resolved already.
 */
export async function skipParkedMessage(store: EventStore, outbox: Outbox, id: string): Promise<ReleaseResult> {
  parseInput(idSchema, id, 'id');
  return store.withTransaction(async (tx) => {
    const lane = await lockUnresolved(tx, outbox, id);
    const [row] = await unresolvedOf(tx, lane, 1);
    await parkedTable(tx).updateTable('outbox_parked_messages').set({ status: 'skipped', resolved_at: new Date() }).where('id', '=', id as never).execute();
    if (String(row?.id) !== id) return { published: 0 };
    return releaseLane(tx, outbox, lane);
  }, { appends: false });
}

/** The message's lane, locked, once the message is known to be unresolved under the lock. */
async function lockUnresolved(tx: EventStoreTransaction, outbox: Outbox, id: string): Promise<Lane> {
  const read = () => parkedTable(tx).selectFrom('outbox_parked_messages').select(['destination', 'key', 'status']).where('id', '=', id as never).where('outbox', '=', outbox.name).executeTakeFirst();
  const row = await read();
  if (!row) throw new ValidationError([{ field: 'id', reason: `no parked message ${id} in outbox '${outbox.name}'` }]);
  const lane = { outbox: outbox.name, destination: row.destination, key: row.key };
  await lockLane(tx, lane);
  const status = (await read())!.status;
  if (status !== 'parked' && status !== 'held') throw new ValidationError([{ field: 'id', reason: `parked message ${id} is already ${status}` }]);
  return lane;
}

function unresolvedOf(tx: EventStoreTransaction, lane: Lane, limit = 100_000) {
  return parkedTable(tx)
    .selectFrom('outbox_parked_messages')
    .selectAll()
    .where('outbox', '=', lane.outbox)
    .where('destination', '=', lane.destination)
    .where('key', '=', lane.key)
    .where('status', 'in', ['parked', 'held'])
    .orderBy('global_position')
    .orderBy('id')
    .limit(limit)
    .execute();
}

/** Publishes the lane's unresolved messages in order, one attempt each, until one fails: that one is parked with its error. */
async function releaseLane(tx: EventStoreTransaction, outbox: Outbox, lane: Lane): Promise<ReleaseResult> {
  let published = 0;
  for (const row of await unresolvedOf(tx, lane)) {
    const error = await publishAgain(tx, outbox, row);
    const update = parkedTable(tx).updateTable('outbox_parked_messages').where('id', '=', row.id as never);
    if (error !== undefined) {
      await update.set({ status: 'parked', error, attempts: row.attempts + 1 }).execute();
      return { published, failed: { id: String(row.id), error } };
    }
    await update.set({ status: 'published', resolved_at: new Date(), attempts: row.attempts + 1 }).execute();
    published++;
  }
  return { published };
}

/** Undefined once the broker acknowledged it; otherwise why not. */
async function publishAgain(
  tx: EventStoreTransaction,
  outbox: Outbox,
  row: { destination: string; global_position: string | bigint; event_id: string },
): Promise<string | undefined> {
  const publisher = outbox.destinations.get(row.destination)?.publisher;
  if (!publisher) return `destination '${row.destination}' is not in outbox '${outbox.name}' any more: skip the message`;
  const [event] = await tx.readEventsAt([BigInt(row.global_position)]);
  if (!event || event.id !== row.event_id) return `its event ${row.event_id} is no longer in the log: skip the message`;
  const [routed] = routeEvent(outbox, event, row.destination);
  if (!routed) return `its event ${row.event_id} (${event.type}) is no longer routed to '${row.destination}': skip the message`;
  if (routed.error) return describe(routed.error);
  try {
    await publisher.publish(routed.message);
    return undefined;
  } catch (error) {
    return describe(error);
  }
}
