/**
 * The log for audit and debugging: `events(...)`, the global log in position order with
 * filters, and `stream(id)`, one stream's state and its events in version order. Both
 * are Relay connections with bounded pages, read through the store's own reads (readAll,
 * readStream: bounded to what readers can see, so a page never skips an event that
 * commits later below it).
 */
import { z } from 'zod';
import { ValidationError } from '../../errors.js';
import type { EventStore, RecordedEvent } from '../../event-store/event-store.js';
import { eventTypeSchema, streamIdSchema } from '../../event-store/validation.js';
import { defineConnection, type Connection, type ConnectionArgs } from '../../graphql/connection.js';
import { parseInput } from '../../validation.js';
import { parseClientPosition } from '../read-your-writes.js';

/** An event as the admin schema shows it: positions as strings (they pass 2^53), times as ISO strings. */
export interface LogEventNode {
  position: string;
  id: string;
  streamId: string;
  version: number;
  type: string;
  schemaVersion: number;
  data: unknown;
  metadata: Record<string, unknown>;
  recordedAt: string;
}

export const toLogEventNode = (event: RecordedEvent): LogEventNode => ({
  position: event.globalPosition.toString(),
  id: event.id,
  streamId: event.streamId,
  version: event.version,
  type: event.type,
  schemaVersion: event.schemaVersion,
  data: event.data,
  metadata: event.metadata,
  recordedAt: event.recordedAt.toISOString(),
});

/** The log, by global position. Events can be large: pages are smaller than the read models'. */
const logEvents = defineConnection({
  name: 'admin.events',
  key: z.string().regex(/^\d{1,19}$/),
  keyOf: (event: RecordedEvent) => event.globalPosition.toString(),
  defaultFirst: 20,
  maxFirst: 100,
});

/** One stream, by version. */
const streamEvents = defineConnection({
  name: 'admin.stream.events',
  key: z.number().int().min(1),
  keyOf: (event: RecordedEvent) => event.version,
  defaultFirst: 20,
  maxFirst: 100,
});

/** Most names in one filter: an operator's filter, not a program's. */
const maxFilterEntries = 100;

const filtersSchema = z.object({
  categories: z.array(streamIdSchema).max(maxFilterEntries, { error: `must list at most ${maxFilterEntries} categories` }).nullish(),
  types: z.array(eventTypeSchema).max(maxFilterEntries, { error: `must list at most ${maxFilterEntries} event types` }).nullish(),
});

export interface EventsArgs extends ConnectionArgs {
  afterPosition?: string | null;
  categories?: string[] | null;
  types?: string[] | null;
}

/**
 * `events(first, after, afterPosition, categories, types)`: a page of the log. `after` is
 * the previous page's `endCursor`; `afterPosition` starts after a position instead (the
 * `position` a mutation returned, say).
 *
 * @throws ValidationError naming the argument (`first`, `after`, `afterPosition`, `types[0]`).
 */
export async function readEventsPage(store: EventStore, args: EventsArgs): Promise<Connection<LogEventNode>> {
  const page = logEvents.page(args);
  const filters = parseInput(filtersSchema, { categories: args.categories, types: args.types }, '');
  const from = parseClientPosition(args.afterPosition ?? undefined, 'afterPosition');
  if (from !== undefined && page.after !== undefined) {
    throw new ValidationError([{ field: 'afterPosition', reason: 'give either after (a cursor) or afterPosition, not both' }]);
  }
  const after = page.after === undefined ? from : BigInt(page.after);
  const events = await store.readAll({
    ...(after === undefined ? {} : { after }),
    limit: page.limit,
    ...(filters.categories ? { categories: filters.categories } : {}),
    ...(filters.types ? { types: filters.types } : {}),
  });
  return logEvents.connection(events, page, toLogEventNode);
}

/** A stream as the admin schema shows it; its events are read by `Stream.events`. */
export interface StreamNode {
  id: string;
  category: string;
  version: number;
  truncateBefore: number;
  historyStart: number;
  deleted: boolean;
  deletedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** `stream(id)`: the stream's state, or null when it was never appended to. @throws ValidationError on `id`. */
export async function readStreamNode(store: EventStore, id: string): Promise<StreamNode | null> {
  parseInput(streamIdSchema, id, 'id');
  const info = await store.getStreamInfo(id);
  if (!info) return null;
  return {
    id: info.streamId,
    category: info.category,
    version: info.version,
    truncateBefore: info.truncateBefore,
    historyStart: info.historyStart,
    deleted: info.deleted,
    deletedAt: info.deletedAt?.toISOString() ?? null,
    createdAt: info.createdAt.toISOString(),
    updatedAt: info.updatedAt.toISOString(),
  };
}

/**
 * `Stream.events(first, after)`: a page of the stream's events, oldest first (from its
 * retention point when truncated).
 *
 * @throws StreamDeletedError when the stream is deleted (its events stay in the log: read them with `events`).
 */
export async function readStreamEventsPage(store: EventStore, stream: StreamNode, args: ConnectionArgs): Promise<Connection<LogEventNode>> {
  const page = streamEvents.page(args);
  const events = await store.readStream(stream.id, { fromVersion: (page.after ?? 0) + 1, limit: page.limit });
  return streamEvents.connection(events, page, toLogEventNode);
}
