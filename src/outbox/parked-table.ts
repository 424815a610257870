import { sql, type ColumnType, type Generated, type Kysely } from 'kysely';
import type { EventStoreTransaction } from '../event-store/event-store.js';

/**
 * Every statement on `outbox_parked_messages` (migration 0013): the relay's park and hold
 * checks, and the listing, retry and skip of parked messages. A lane (an outbox's
 * destination and one ordering key) is changed only under its lock (lockLane): by the
 * relay that owns the key's partition, or by a retry or skip.
 */

type Int8 = ColumnType<string | bigint, string | bigint | number, string | bigint | number>;

export type ParkedStatus = 'parked' | 'held' | 'published' | 'skipped';

export interface OutboxParkedMessagesTable {
  id: ColumnType<string | bigint, never, never>;
  outbox: string;
  destination: string;
  message_id: string;
  key: string;
  global_position: Int8;
  event_id: string;
  event_type: string;
  status: ParkedStatus;
  error: string | null;
  attempts: Generated<number>;
  parked_at: ColumnType<Date, Date | string | undefined, Date | string>;
  resolved_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

interface Tables {
  outbox_parked_messages: OutboxParkedMessagesTable;
}

export const parkedTable = (tx: EventStoreTransaction) => (tx.db as Kysely<Tables>).withSchema(tx.schema);

/** One outbox's messages of one destination and key: published one at a time, in log order. */
export interface Lane {
  outbox: string;
  destination: string;
  key: string;
}

/** A message of a lane, as a parked row names it. */
export interface LaneMessage extends Lane {
  messageId: string;
  globalPosition: bigint;
  eventId: string;
  eventType: string;
}

/**
 * Serializes the changes of one lane until the transaction ends: the relay's "held?"
 * check and its hold, against a retry or a skip releasing the lane. Advisory: it takes no
 * transaction id, so it never holds back the log's readers.
 */
export async function lockLane(tx: EventStoreTransaction, lane: Lane): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('annals.outbox'), hashtext($1))`, [`${tx.schema}\n${lane.outbox}\n${lane.destination}\n${lane.key}`]);
}

/** The relay's partition that a park or hold is fenced by: it writes only while it owns it. */
export interface Owner {
  consumer: string;
  partition: number;
  workerId: string;
}

/**
 * Whether `owner` still owns its partition, the partition row share-locked until the
 * transaction ends: a takeover (its claim updates the row) waits until the park or hold
 * committed, and then reads it. A relay that lost its partition writes nothing. Taken
 * after the lane's lock, so a wait on a lane (a retry publishing) never holds the row.
 */
async function owns(tx: EventStoreTransaction, owner: Owner): Promise<boolean> {
  const rows = await tx.query<{ owner: string | null }>(
    `SELECT owner FROM "${tx.schema}".consumer_partitions WHERE consumer = $1 AND generation = 1 AND partition = $2 FOR SHARE`,
    [owner.consumer, owner.partition],
  );
  return rows[0]?.owner === owner.workerId;
}

/**
 * What the relay does with a message before publishing it: `publish` it; `skip` it (it
 * has a row already: parked or held there, or resolved by a retry or skip, when a batch
 * runs again after a crash); or, when an earlier message of its lane is unresolved,
 * `hold` it: recorded behind that one, in the same locked transaction. `lost`: the
 * partition is no longer this relay's.
 */
export async function holdIfLaneHeld(tx: EventStoreTransaction, message: LaneMessage, owner: Owner): Promise<'publish' | 'skip' | 'hold' | 'lost'> {
  await lockLane(tx, message);
  if (!(await owns(tx, owner))) return 'lost';
  const rows = await parkedTable(tx)
    .selectFrom('outbox_parked_messages')
    .select(['message_id', 'status', 'global_position'])
    .where('outbox', '=', message.outbox)
    .where((eb) =>
      eb.or([
        eb('message_id', '=', message.messageId),
        eb.and([
          eb('destination', '=', message.destination),
          eb('key', '=', message.key),
          eb('status', 'in', ['parked', 'held']),
          eb('global_position', '<', message.globalPosition.toString()),
        ]),
      ]),
    )
    .limit(2)
    .execute();
  if (rows.some((row) => row.message_id === message.messageId)) return 'skip';
  if (rows.length === 0) return 'publish';
  await insertParked(tx, message, { status: 'held', error: null, attempts: 0 });
  return 'hold';
}

/** Parks a message that failed: its lane is held from now on. Idempotent (a replayed batch). False when the partition is no longer the owner's. */
export async function park(tx: EventStoreTransaction, message: LaneMessage, owner: Owner, failure: { error: string; attempts: number }): Promise<boolean> {
  await lockLane(tx, message);
  if (!(await owns(tx, owner))) return false;
  await insertParked(tx, message, { status: 'parked', ...failure });
  return true;
}

async function insertParked(tx: EventStoreTransaction, message: LaneMessage, row: { status: ParkedStatus; error: string | null; attempts: number }): Promise<void> {
  await parkedTable(tx)
    .insertInto('outbox_parked_messages')
    .values({
      outbox: message.outbox,
      destination: message.destination,
      message_id: message.messageId,
      key: message.key,
      global_position: message.globalPosition.toString(),
      event_id: message.eventId,
      event_type: message.eventType,
      ...row,
    })
    .onConflict((oc) => oc.columns(['outbox', 'message_id']).doNothing())
    .execute();
}

/**
 * The lanes among `messages` that need the locked check of holdIfLaneHeld: those with an
 * unresolved message, or with a row for one of these messages (a batch run again). Any
 * other lane can only become held by this relay's own park (only the owner of a key's
 * partition parks; retries and skips only resolve), so its messages go out without a
 * round trip each until then.
 */
export async function lanesWithRows(tx: EventStoreTransaction, outbox: string, messages: readonly { messageId: string; destination: string; key: string }[]): Promise<Set<string>> {
  if (messages.length === 0) return new Set();
  const keys = [...new Set(messages.map((message) => message.key))];
  // Two array parameters, not a parameter per id and key: one statement text whatever the
  // batch's size, prepared once per connection (a batch of 1,000 had 1,250 parameters).
  const rows = await parkedTable(tx)
    .selectFrom('outbox_parked_messages')
    .select(['destination', 'key'])
    .distinct()
    .where('outbox', '=', outbox)
    .where((eb) =>
      eb.or([
        eb('message_id', '=', sql<string>`ANY(${messages.map((message) => message.messageId)}::text[])`),
        eb.and([eb('status', 'in', ['parked', 'held']), eb('key', '=', sql<string>`ANY(${keys}::text[])`)]),
      ]),
    )
    .execute();
  return new Set(rows.map((row) => laneKey(row)));
}

export const laneKey = (lane: { destination: string; key: string }) => `${lane.destination}\n${lane.key}`;
