/**
 * The outboxes for the admin schema (issue 15, section 5; docs/outbox.md): where each of
 * the service's outboxes stands (outboxStatus), a page of an outbox's parked messages in
 * log order, and their retry and skip, shaped for GraphQL. The outboxes are the service's
 * `outboxes` option; an outbox argument names one of them.
 */
import type { Selectable } from 'kysely';
import { z } from 'zod';
import { ValidationError } from '../../errors.js';
import type { EventStore } from '../../event-store/event-store.js';
import { defineConnection, type Connection, type ConnectionArgs } from '../../graphql/connection.js';
import type { LoaderQuery } from '../../graphql/connection-loader.js';
import type { Outbox } from '../../outbox/define-outbox.js';
import { outboxStatus } from '../../outbox/outbox-status.js';
import { retryParkedMessage, skipParkedMessage, type ReleaseResult } from '../../outbox/parked-messages.js';
import { parkedTable, type OutboxParkedMessagesTable, type ParkedStatus } from '../../outbox/parked-table.js';
import { toLogEventNode, type LogEventNode } from './log-admin.js';

type Upper<Status extends string> = Uppercase<Status>;

/** A parked (or held) message as the admin schema shows it: positions as strings, times as ISO strings. */
export interface ParkedMessageNode {
  id: string;
  outbox: string;
  destination: string;
  messageId: string;
  key: string;
  position: string;
  eventId: string;
  eventType: string;
  status: Upper<ParkedStatus>;
  error: string | null;
  attempts: number;
  parkedAt: string;
  resolvedAt: string | null;
}

type ParkedRow = Selectable<OutboxParkedMessagesTable>;

const toParkedNode = (row: ParkedRow): ParkedMessageNode => ({
  id: String(row.id),
  outbox: row.outbox,
  destination: row.destination,
  messageId: row.message_id,
  key: row.key,
  position: String(row.global_position),
  eventId: row.event_id,
  eventType: row.event_type,
  status: row.status.toUpperCase() as Upper<ParkedStatus>,
  error: row.error,
  attempts: row.attempts,
  parkedAt: row.parked_at.toISOString(),
  resolvedAt: row.resolved_at?.toISOString() ?? null,
});

/** `outboxStatus`: each of the service's outboxes, 64-bit positions as strings. */
export async function readOutboxStatus(store: EventStore, outboxes: readonly Outbox[]) {
  const statuses = await outboxStatus(store, outboxes);
  return statuses.map((status) => ({
    ...status,
    head: status.head.toString(),
    partitions: status.partitions.map((partition) => ({ ...partition, position: partition.position.toString() })),
  }));
}

/** In log order, the order a retry publishes them: by position, then by id (two destinations of one event). */
const parkedMessages = defineConnection({
  name: 'admin.parkedMessages',
  key: z.tuple([z.string().regex(/^\d{1,19}$/), z.string().regex(/^\d{1,18}$/)]),
  keyOf: (row: ParkedRow) => [String(row.global_position), String(row.id)] as [string, string],
});

export interface ParkedMessagesArgs extends ConnectionArgs {
  outbox: string;
  status?: Upper<ParkedStatus> | 'UNRESOLVED' | 'ALL' | null;
  destination?: string | null;
  key?: string | null;
}

/**
 * `parkedMessages(outbox, status, destination, key, first, after)`: a page of the
 * outbox's parked messages in log order; by default the unresolved ones (parked, held).
 *
 * @throws ValidationError naming the argument (`outbox`, `first`, `after`).
 */
export async function readParkedMessagesPage(store: EventStore, outboxes: readonly Outbox[], args: ParkedMessagesArgs): Promise<Connection<ParkedMessageNode>> {
  const outbox = outboxNamed(outboxes, args.outbox);
  const page = parkedMessages.page(args);
  const status = args.status ?? 'UNRESOLVED';
  const rows = await store.withTransaction(
    async (tx) => {
      let query = parkedTable(tx).selectFrom('outbox_parked_messages').selectAll().where('outbox', '=', outbox.name);
      if (status === 'UNRESOLVED') query = query.where('status', 'in', ['parked', 'held']);
      else if (status !== 'ALL') query = query.where('status', '=', status.toLowerCase() as ParkedStatus);
      if (args.destination != null) query = query.where('destination', '=', args.destination);
      if (args.key != null) query = query.where('key', '=', args.key);
      if (page.after) {
        const [position, id] = page.after;
        query = query.where((eb) => eb(eb.refTuple('global_position', 'id'), '>', eb.tuple(position, id as never)));
      }
      return query.orderBy('global_position').orderBy('id').limit(page.limit).execute();
    },
    { appends: false },
  );
  return parkedMessages.connection(rows, page, toParkedNode);
}

/** What retryParkedMessage or skipParkedMessage did, with the message named as it is now. */
export async function releaseParkedMessage(
  store: EventStore,
  outboxes: readonly Outbox[],
  args: { outbox: string; id: string },
  action: 'retry' | 'skip',
): Promise<{ message: ParkedMessageNode; published: number; failed: ReleaseResult['failed'] | null }> {
  const outbox = outboxNamed(outboxes, args.outbox);
  const result = await (action === 'retry' ? retryParkedMessage : skipParkedMessage)(store, outbox, args.id);
  const row = await store.withTransaction(
    (tx) => parkedTable(tx).selectFrom('outbox_parked_messages').selectAll().where('id', '=', args.id as never).executeTakeFirstOrThrow(),
    { appends: false },
  );
  return { message: toParkedNode(row), published: result.published, failed: result.failed ?? null };
}

/** The events of a page of parked messages, in one read. */
export async function loadParkedEvents(store: EventStore, queries: readonly LoaderQuery<ParkedMessageNode, unknown>[]): Promise<(LogEventNode | null)[]> {
  const events = new Map((await store.readEventsById([...new Set(queries.map((query) => query.obj.eventId))])).map((event) => [event.id, event]));
  return queries.map((query) => {
    const event = events.get(query.obj.eventId);
    return event ? toLogEventNode(event) : null;
  });
}

/** @throws ValidationError (`outbox`) when the service has no outbox of that name. */
function outboxNamed(outboxes: readonly Outbox[], name: string): Outbox {
  const outbox = outboxes.find((candidate) => candidate.name === name);
  if (outbox) return outbox;
  const known = outboxes.map((candidate) => `'${candidate.name}'`).join(', ') || 'none: give them in createService({ outboxes })';
  throw new ValidationError([{ field: 'outbox', reason: `'${name}' is not an outbox of this service (it has ${known})` }]);
}
