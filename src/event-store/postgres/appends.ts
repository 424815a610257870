import { isDeepStrictEqual } from 'node:util';
import { ConcurrencyError, IdempotencyConflictError, StreamDeletedError, TransactionTooLargeError } from '../../errors.js';
import type { AppendOptions, AppendResult, NewEvent } from '../event-store.js';
import { prepareAppend, type PreparedAppend } from '../validation.js';
import { appendQuery, maxEventsPerTransaction, type AppendRow } from './append-statement.js';
import { logAheadError } from './log-bound.js';
import { getStreamInfo } from './reads.js';
import { anyOf, type SessionContext } from './session-context.js';
import { revealed, sealAppend } from './personal.js';
import type { RecordedEvent } from '../records.js';

/** How often a plain append is tried when newer transactions keep appending to its stream first. */
const maxOrderRetries = 20;

export async function appendToStream(
  session: SessionContext,
  streamId: string,
  events: readonly NewEvent[],
  options: AppendOptions = {},
): Promise<AppendResult> {
  session.assertOpen();
  const append = prepareAppend(streamId, events, options?.expectedVersion, session.limits);
  const retryable = append.events.some((event) => event.idFromCaller);
  await sealAppend(session, append);

  // Inside a transaction a failed statement aborts the caller's whole transaction, so a
  // retry is recognized before writing. Outside one, the append itself is tried first
  // (one round trip on the common path) and a retry shows up as its failure.
  if (retryable && session.inTransaction) {
    const earlier = await findEarlierAppend(session, append);
    if (earlier) return earlier;
  }

  let row: AppendRow | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      const query = appendQuery(session.schema, append, session.inTransaction);
      session.prepare(query.sql);
      row = (await session.executor.executeQuery(query)).rows[0];
      break;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'AN002') {
        // A newer transaction appended to the stream after this one got its id
        // (docs/global-log.md, "Per-stream order"). On its own, the append is its own
        // transaction: trying again gets a newer id. Inside withTransaction the caller
        // must retry the whole transaction.
        if (!session.inTransaction && attempt < maxOrderRetries) continue;
        const actual = Number((error as { detail?: string }).detail ?? 0);
        throw new ConcurrencyError(append.streamId, append.expectedVersion, actual, { reason: 'log-order', cause: error });
      }
      if (isDuplicateEventId(error) && !session.inTransaction) {
        const earlier = await findEarlierAppend(session, append);
        if (earlier) return earlier;
      }
      throw appendError(error, append);
    }
  }

  if (row?.version === null || row?.version === undefined || row.last_position === null) {
    // The stream row did not match the expected version: find out why.
    if (retryable && !session.inTransaction) {
      const earlier = await findEarlierAppend(session, append);
      if (earlier) return earlier;
    }
    const info = await getStreamInfo(session, append.streamId);
    if (info?.deleted) throw new StreamDeletedError(append.streamId);
    throw new ConcurrencyError(append.streamId, append.expectedVersion, info?.version ?? 0);
  }
  session.onAppended();
  return {
    nextExpectedVersion: Number(row.version),
    lastGlobalPosition: BigInt(row.last_position),
    eventIds: append.events.map((event) => event.id),
    written: true,
  };
}

/** The typed error for a failed append statement. */
function appendError(error: unknown, append: PreparedAppend): unknown {
  if ((error as { code?: string }).code === 'AN001') return new TransactionTooLargeError(maxEventsPerTransaction, { cause: error });
  if (!isDuplicateEventId(error)) return logAheadError(error) ?? error;
  const eventId = append.events.find((event) => event.idFromCaller)?.id ?? append.events[0]!.id;
  return new IdempotencyConflictError(
    append.streamId,
    eventId,
    'an event id in this batch was appended concurrently by another transaction; retry the transaction',
  );
}

/**
 * When events with the caller's ids are already stored, decides whether this append is
 * a retry of that one (same stream, same events, same order): then it returns the
 * original result. Anything else that reuses an id is an IdempotencyConflictError.
 */
async function findEarlierAppend(session: SessionContext, append: PreparedAppend): Promise<AppendResult | null> {
  const ids = append.events.map((event) => event.id);
  const rows = await session.executor
    .withSchema(session.schema)
    .selectFrom('events_all')
    .select(['event_id', 'stream_id', 'stream_version', 'global_position', 'type', 'schema_version', 'data', 'metadata'])
    .where('event_id', '=', anyOf(ids, 'uuid'))
    .execute();
  if (rows.length === 0) return null;
  // Sealed personal fields differ on each seal (a fresh IV): compare them opened.
  const opened = await revealed(session, rows.map((row) => ({ id: row.event_id, streamId: row.stream_id, data: row.data }) as RecordedEvent));
  const dataOf = new Map(opened.map((event) => [event.id, event.data]));
  const byId = new Map(rows.map((row) => [row.event_id, row]));
  const first = byId.get(ids[0]!);
  let last: (typeof rows)[number] | undefined;
  for (const [index, event] of append.events.entries()) {
    const row = byId.get(event.id);
    const conflict = (reason: string) => new IdempotencyConflictError(append.streamId, event.id, reason);
    if (!row || !first) throw conflict('only part of this batch was appended before; a retry must send the same events');
    if (row.stream_id !== append.streamId) throw conflict(`it was appended to stream '${row.stream_id}'`);
    if (Number(row.stream_version) !== Number(first.stream_version) + index) {
      throw conflict('the earlier append held these events in another order or batch');
    }
    if (
      row.type !== event.type ||
      row.schema_version !== event.schemaVersion ||
      !isDeepStrictEqual(dataOf.get(row.event_id), event.data ?? JSON.parse(event.dataJson)) ||
      !isDeepStrictEqual(row.metadata, JSON.parse(event.metadataJson))
    ) {
      throw conflict('it was appended with another type, schema version, data or metadata');
    }
    last = row;
  }
  return { nextExpectedVersion: Number(last!.stream_version), lastGlobalPosition: BigInt(last!.global_position), eventIds: ids, written: false };
}

function isDuplicateEventId(error: unknown): boolean {
  return (error as { code?: string }).code === '23505' && (error as { constraint?: string }).constraint === 'events_event_id_key';
}
