import { CompiledQuery } from 'kysely';
import type { ExpectedVersion } from './expected-version.js';
import type { PreparedAppend, PreparedEvent } from './validation.js';
import { quoteIdent } from '../database/quote-ident.js';

/** Low bits of a global position that number the events of one transaction. */
export const positionBits = 20;
export const maxEventsPerTransaction = 2 ** positionBits;

export interface AppendRow {
  version: string | number | bigint | null;
  last_position: string | number | bigint | null;
}

/**
 * The whole append as one statement, so it is atomic and one round trip even without an
 * explicit transaction:
 *
 * 1. `stream` moves the stream's version forward only if the expected version holds; its
 *    row lock makes concurrent appends to one stream queue up and re-check.
 * 2. `position` numbers the events: the transaction id in the high bits, then the events
 *    this transaction appended so far (docs/global-log.md). Outside withTransaction the
 *    statement is its own transaction, so the probe for earlier appends is left out.
 * 3. `inserted` writes the events; nothing is written when `stream` returned no row.
 *
 * The text depends only on the schema, the kind of expected version and whether the
 * append runs inside a transaction, so it is built once per combination and runs as a
 * prepared statement; the values travel as parameters: $1 stream id, $2 category, $3
 * number of events, $4 the events as one JSON array, $5 the expected version (a number).
 * Hand-written SQL rather than kysely: a data-modifying CTE with
 * `jsonb_array_elements ... WITH ORDINALITY` and pg_current_xact_id() is beyond its
 * builder, and this is the hot path (building and compiling the query each call showed
 * in profiles).
 */
export function appendQuery(schema: string, append: PreparedAppend, inTransaction: boolean): CompiledQuery<AppendRow> {
  const kind = kindOf(append.expectedVersion);
  const key = `${schema}\u0000${kind}\u0000${inTransaction}`;
  let text = texts.get(key);
  if (text === undefined) {
    text = appendText(schema, kind, inTransaction);
    texts.set(key, text);
  }
  const parameters: unknown[] = [append.streamId, append.category, append.events.length, batchJson(append.events)];
  if (kind === 'exact') parameters.push(append.expectedVersion);
  return CompiledQuery.raw(text, parameters) as CompiledQuery<AppendRow>;
}

type Kind = 'no_stream' | 'any' | 'stream_exists' | 'exact';

const texts = new Map<string, string>();

function kindOf(expected: ExpectedVersion): Kind {
  if (expected === 'no_stream' || expected === 0) return 'no_stream';
  if (expected === 'any' || expected === 'stream_exists') return expected;
  return 'exact';
}

function appendText(schema: string, kind: Kind, inTransaction: boolean): string {
  const s = quoteIdent(schema);
  const streams = `${s}."streams"`;
  const events = `${s}."events"`;
  const base = `pg_current_xact_id()::text::bigint << ${positionBits}`;
  const position = inTransaction
    ? `SELECT tx.base, coalesce(
         (SELECT max(e.global_position) + 1 FROM ${events} e
           WHERE e.global_position >= tx.base AND e.global_position < tx.base + ${maxEventsPerTransaction}),
         tx.base) AS first
       FROM (SELECT ${base} AS base) tx`
    : `SELECT base, base AS first FROM (SELECT ${base} AS base) tx`;
  return `WITH stream AS (${streamText(streams, kind)}),
    position AS (${position}),
    inserted AS (
      INSERT INTO ${events}
        (global_position, stream_id, stream_version, event_id, category, type, schema_version, data, metadata)
      SELECT
        CASE WHEN position.first - position.base + $3::bigint <= ${maxEventsPerTransaction}
          THEN position.first + e.ord - 1
          ELSE ${s}."annals_transaction_too_large"(${maxEventsPerTransaction}) END,
        $1::text, stream.version - $3::bigint + e.ord, (e.event->>'id')::uuid, $2::text,
        e.event->>'type', (e.event->>'schemaVersion')::integer, e.event->'data', e.event->'metadata'
      FROM stream, position, jsonb_array_elements($4::jsonb) WITH ORDINALITY AS e(event, ord)
      RETURNING global_position
    )
    SELECT (SELECT version FROM stream) AS version, (SELECT max(global_position) FROM inserted) AS last_position`;
}

/** The stream-row half: returns the stream's new version, or no row when the expectation fails. */
function streamText(streams: string, kind: Kind): string {
  switch (kind) {
    case 'no_stream':
      // A deleted stream counts as absent: the append recreates it. Versions go on from
      // where they were (ids and versions are never reused); the old events stay hidden.
      return `INSERT INTO ${streams} AS s (stream_id, category, version) VALUES ($1::text, $2::text, $3::bigint)
        ON CONFLICT (stream_id) DO UPDATE
          SET version = s.version + $3::bigint, truncate_before = s.version + 1,
              history_start = s.version + 1, deleted_at = NULL, updated_at = now()
          WHERE s.deleted_at IS NOT NULL
        RETURNING version`;
    case 'any':
      return `INSERT INTO ${streams} AS s (stream_id, category, version) VALUES ($1::text, $2::text, $3::bigint)
        ON CONFLICT (stream_id) DO UPDATE
          SET version = s.version + $3::bigint, updated_at = now()
          WHERE s.deleted_at IS NULL
        RETURNING version`;
    case 'stream_exists':
    case 'exact':
      return `UPDATE ${streams} SET version = version + $3::bigint, updated_at = now()
        WHERE stream_id = $1::text AND ${kind === 'exact' ? 'version = $5::bigint' : 'version > 0'} AND deleted_at IS NULL
        RETURNING version`;
  }
}

/** The events of an append as one JSON array, from their already-serialized payloads. */
function batchJson(events: readonly PreparedEvent[]): string {
  let json = '[';
  for (const [index, event] of events.entries()) {
    if (index > 0) json += ',';
    json += `{"id":"${event.id}","type":${JSON.stringify(event.type)},"schemaVersion":${event.schemaVersion},"data":${event.dataJson},"metadata":${event.metadataJson}}`;
  }
  return `${json}]`;
}
