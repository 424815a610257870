import { CompiledQuery } from 'kysely';
import type { ExpectedVersion } from '../expected-version.js';
import type { PreparedAppend, PreparedEvent } from '../validation.js';
import { quoteIdent } from '../../database/quote-ident.js';
import { appenderKey, appenderLockClass } from './log-bound.js';

/** Low bits of a global position that number the events of one transaction. */
export const positionBits = 20;
export const maxEventsPerTransaction = 2 ** positionBits;

export interface AppendRow {
  version: string | number | bigint | null;
  last_position: string | number | bigint | null;
}

/**
 * The whole append as one statement, so it is atomic and one round trip even without an
 * explicit transaction (docs/global-log.md):
 *
 * 1. `registered` (outside withTransaction only; withTransaction registers first thing)
 *    takes the appender lock before anything gives the transaction an id, so readers
 *    know to wait for it. `tx` reads the id only once the lock is held (CASE evaluates
 *    its condition first).
 * 2. `log` turns the id into the position base: (id + the store's offset) << 20. If the
 *    log already holds positions this server's ids have not reached (the store was moved
 *    and migrate() not run there), it raises AN003 instead of writing below them.
 * 3. `position` numbers the events: inside withTransaction after those the transaction
 *    appended so far (one index probe), otherwise from the base.
 * 4. `stream` moves the stream's version forward only if the expected version holds; its
 *    row lock makes concurrent appends to one stream queue up and re-check. It raises
 *    AN002 if the stream already has an event of a newer transaction: this one's id was
 *    fixed before that one appended, and its events would land below them in the log.
 * 5. `inserted` writes the events; nothing is written when `stream` returned no row. An
 *    id already in the archive fails like a duplicate in the hot table (`archived`,
 *    migration 0018): each table's unique index sees only its own rows. Looked up only
 *    when the archive holds events: the probes cost batches of 100 about a tenth. And
 *    through a function (migration 0019), so the plan does not reference the archive:
 *    locking and opening it and its index cost single-event appends about 8%.
 *
 * The text depends only on the schema, the kind of expected version and whether the
 * append runs inside a transaction, so it is built once per combination and runs as a
 * prepared statement; the values travel as parameters: $1 stream id, $2 category, $3
 * number of events, $4 the events as one JSON array, $5 the expected version (a number).
 * Hand-written SQL rather than kysely: a data-modifying CTE with
 * `jsonb_array_elements ... WITH ORDINALITY`, advisory locks and pg_current_xact_id()
 * are beyond its builder, and this is the hot path.
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
  const events = `${s}."events"`;
  const xid = 'pg_current_xact_id()::text::bigint';
  const tx = inTransaction
    ? `tx AS (SELECT ${xid} AS xid)`
    : `registered AS (SELECT pg_advisory_xact_lock_shared(${appenderLockClass}, ${appenderKey(schema)})::text AS done),
    tx AS (SELECT CASE WHEN registered.done IS NOT NULL THEN ${xid} END AS xid FROM registered)`;
  const first = inTransaction
    ? `coalesce(
         (SELECT max(e.global_position) + 1 FROM ${events} e
           WHERE e.global_position >= log.base AND e.global_position < log.base + ${maxEventsPerTransaction}),
         log.base)`
    : 'log.base';
  // The offset as a scalar subquery: a join with the one-row table would be estimated at
  // a thousand rows (no statistics yet), and the inflated cost switches JIT on (~0.7 s).
  return `WITH ${tx},
    log AS (
      SELECT CASE
          WHEN (SELECT max(global_position) FROM ${events}) >> ${positionBits}
               >= greatest(pg_snapshot_xmax(pg_current_snapshot())::text::bigint, tx.xid + 1) + o.xid_offset
          THEN ${s}."annals_log_ahead"((SELECT max(global_position) FROM ${events}),
                 (pg_snapshot_xmax(pg_current_snapshot())::text::bigint + o.xid_offset) << ${positionBits})
          ELSE (tx.xid + o.xid_offset) << ${positionBits} END AS base
      FROM tx, (SELECT (SELECT xid_offset FROM ${s}."global_log") AS xid_offset) o
    ),
    position AS (SELECT log.base, ${first} AS first FROM log),
    archived AS (
      SELECT CASE WHEN (SELECT archived_events FROM ${s}."archive_state") > 0
        THEN ${s}."annals_archived_event_id"($4::jsonb) END AS event_id
    ),
    stream AS (${streamText(s, kind)}),
    inserted AS (
      INSERT INTO ${events}
        (global_position, stream_id, stream_version, event_id, category, type, schema_version, data, metadata)
      SELECT
        CASE WHEN position.first - position.base + $3::bigint <= ${maxEventsPerTransaction}
          THEN position.first + e.ord - 1
          ELSE ${s}."annals_transaction_too_large"(${maxEventsPerTransaction}) END,
        $1::text, stream.version - $3::bigint + e.ord,
        CASE WHEN archived.event_id IS NULL THEN (e.event->>'id')::uuid ELSE ${s}."annals_event_id_archived"(archived.event_id) END,
        $2::text, e.event->>'type', (e.event->>'schemaVersion')::integer, e.event->'data', e.event->'metadata'
      FROM stream, position, archived, jsonb_array_elements($4::jsonb) WITH ORDINALITY AS e(event, ord)
      RETURNING global_position
    )
    SELECT (SELECT version FROM stream) AS version, (SELECT max(global_position) FROM inserted) AS last_position`;
}

/**
 * The new last position of the stream, or AN002 when the stream's last event comes from a
 * newer transaction (a higher position base) than this append's.
 */
function orderedLast(s: string, next: string): string {
  return `CASE WHEN s.last_position >> ${positionBits} > (${next}) >> ${positionBits}
      THEN ${s}."annals_log_order_violated"($1::text, s.last_position, s.version)
      ELSE ${next} END`;
}

/**
 * The stream-row half: returns the stream's new version, or no row when the expectation
 * fails. Reads `position` (so it runs after the id is known) and records the stream's
 * new last position.
 */
function streamText(s: string, kind: Kind): string {
  const streams = `${s}."streams"`;
  const last = 'position.first + $3::bigint - 1';
  const check = orderedLast(s, 'excluded.last_position');
  const insert = `INSERT INTO ${streams} AS s (stream_id, category, version, last_position)
        SELECT $1::text, $2::text, $3::bigint, ${last} FROM position`;
  switch (kind) {
    case 'no_stream':
      // A deleted stream counts as absent: the append recreates it. Versions go on from
      // where they were (ids and versions are never reused); the old events stay hidden.
      return `${insert}
        ON CONFLICT (stream_id) DO UPDATE
          SET version = s.version + $3::bigint, truncate_before = s.version + 1,
              history_start = s.version + 1, deleted_at = NULL, updated_at = now(), last_position = ${check}
          WHERE s.deleted_at IS NOT NULL
        RETURNING version`;
    case 'any':
      return `${insert}
        ON CONFLICT (stream_id) DO UPDATE
          SET version = s.version + $3::bigint, updated_at = now(), last_position = ${check}
          WHERE s.deleted_at IS NULL
        RETURNING version`;
    case 'stream_exists':
    case 'exact': {
      const update = orderedLast(s, last);
      return `UPDATE ${streams} AS s SET version = s.version + $3::bigint, updated_at = now(), last_position = ${update}
        FROM position
        WHERE s.stream_id = $1::text AND ${kind === 'exact' ? 's.version = $5::bigint' : 's.version > 0'} AND s.deleted_at IS NULL
        RETURNING s.version`;
    }
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
