import type { RecordedEvent } from '../event-store.js';
import { CompiledQuery } from 'kysely';
import { quoteIdent } from '../../database/quote-ident.js';
import type { KeyColumn } from './personal.js';

/**
 * Stream reads and snapshot reads are on the path of every command (loading an
 * aggregate), so like the append they use SQL text built once per schema and run as
 * prepared statements, with every option a parameter: building and compiling them with
 * kysely on each call cost several times the query itself.
 */
const texts = new Map<string, string>();

function cached(key: string, build: () => string): string {
  let text = texts.get(key);
  if (text === undefined) {
    text = build();
    texts.set(key, text);
  }
  return text;
}

const eventFields = (alias: string) =>
  ['global_position', 'stream_id', 'stream_version', 'event_id', 'type', 'schema_version', 'data', 'metadata', 'recorded_at'].map((c) => `${alias}.${c}`).join(', ');

/**
 * A stream's events from the hot log and the archive (migration 0017), each side in
 * stream order and cut at `limit` before they are merged. Not the view `events_all`: a
 * prepared statement runs a generic plan, which estimates a stream at a few events and
 * sorts the union of both sides, so a page of a long stream would read all of it.
 */
function streamEvents(s: string, where: string, order: 'ASC' | 'DESC', limit: string): string {
  const side = (table: string) => `(SELECT ${eventFields('e')} FROM ${s}."${table}" e WHERE ${where} ORDER BY e.stream_version ${order} LIMIT ${limit})`;
  return `(${side('events')} UNION ALL ${side('events_archive')})`;
}

export interface ReadStreamRange {
  fromVersion: number;
  toVersion: number | undefined;
  direction: 'forward' | 'backward';
  limit: number | undefined;
}

/**
 * With the store's own key schema, the column of the data keys an event with personal
 * fields names, those that still exist, wrapped (in hex), as the key store reads them
 * (`personal_keys`; null for an event without personal fields). A stream read whose
 * events hold personal data, every command's load of such an aggregate among them, would
 * otherwise take a second round trip for its keys. Nothing for a key store of the user's.
 */
function personalKeys(keySchema: string | undefined): string {
  if (keySchema === undefined) return '';
  return `,
        CASE WHEN jsonb_typeof(ev.data -> '$personal') = 'array' THEN (
          SELECT json_agg(json_build_object('key_id', k.key_id, 'subject', k.subject, 'wrapped', encode(k.wrapped, 'hex'), 'master_key', k.master_key))
          FROM jsonb_array_elements(ev.data -> '$personal') p
          JOIN ${quoteIdent(keySchema)}."data_keys" k ON k.key_id = (p ->> 'k')::uuid
        ) END AS personal_keys`;
}

/**
 * One round trip: the stream row (deleted? truncated?) with the events in range joined
 * laterally (and their keys: personalKeys). `$3` and `$4` are NULL for "no upper bound"
 * and "no limit" (LIMIT NULL is no limit in Postgres), so one text serves every range.
 */
export function readStreamQuery(schema: string, streamId: string, range: ReadStreamRange, keySchema?: string): CompiledQuery<StreamReadRow> {
  const order = range.direction === 'forward' ? 'ASC' : 'DESC';
  const text = cached(`stream\u0000${schema}\u0000${order}\u0000${keySchema ?? ''}`, () => {
    const s = quoteIdent(schema);
    return `SELECT s.deleted_at, ev.global_position, ev.stream_id, ev.stream_version, ev.event_id, ev.type,
        ev.schema_version, ev.data, ev.metadata, ev.recorded_at${personalKeys(keySchema)}
      FROM ${s}."streams" s
      LEFT JOIN LATERAL (
        SELECT ${eventFields('e')} FROM ${streamEvents(
          s,
          `e.stream_id = s.stream_id AND e.stream_version >= greatest($2::bigint, s.truncate_before)
             AND ($3::bigint IS NULL OR e.stream_version <= $3::bigint)`,
          order,
          '$4::bigint',
        )} e
        ORDER BY e.stream_version ${order}
        LIMIT $4::bigint
      ) ev ON true
      WHERE s.stream_id = $1::text
      ORDER BY ev.stream_version ${order}`;
  });
  return CompiledQuery.raw(text, [streamId, range.fromVersion, range.toVersion ?? null, range.limit ?? null]) as CompiledQuery<StreamReadRow>;
}

/** An event row as pg (int8 as string) or PGlite (int8 as bigint) returns it. */
export interface EventRow {
  global_position: string | bigint | number;
  stream_id: string;
  stream_version: string | bigint | number;
  event_id: string;
  type: string;
  schema_version: number;
  data: unknown;
  metadata: unknown;
  recorded_at: Date | string;
}

/** An events row as a RecordedEvent (pg gives int8 as string, PGlite as bigint). */
export function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    streamId: row.stream_id,
    version: Number(row.stream_version),
    globalPosition: BigInt(row.global_position),
    id: row.event_id,
    type: row.type,
    schemaVersion: row.schema_version,
    data: row.data,
    metadata: row.metadata as Record<string, unknown>,
    recordedAt: row.recorded_at instanceof Date ? row.recorded_at : new Date(row.recorded_at),
  };
}

/** A stream read's row: the stream's tombstone, and an event (all null when none matched), with its keys when asked for (personalKeys). */
export type StreamReadRow = { deleted_at: Date | null; personal_keys?: KeyColumn[] | null } & (EventRow | { [K in keyof EventRow]: null });

/**
 * Loading an aggregate in one round trip: the stream row, its snapshot of the wanted
 * snapshot version, and the first page of events after the snapshot. The snapshot's
 * state rides on the first row only (`n = 1`), so a page of events does not carry a
 * large state once per row.
 * With `keySchema`, each event carries its keys (personalKeys).
 */
export function readStreamFromSnapshotQuery(
  schema: string,
  streamId: string,
  snapshotVersion: number,
  limit: number,
  keySchema?: string,
): CompiledQuery<StreamFromSnapshotRow> {
  const text = cached(`stream-from-snapshot\u0000${schema}\u0000${keySchema ?? ''}`, () => {
    const s = quoteIdent(schema);
    return `SELECT s.deleted_at, s.version AS stream_current_version, s.truncate_before, s.history_start,
        sn.stream_version AS snapshot_stream_version,
        CASE WHEN ev.n IS NULL OR ev.n = 1 THEN sn.state END AS snapshot_state,
        ev.global_position, ev.stream_id, ev.stream_version, ev.event_id, ev.type,
        ev.schema_version, ev.data, ev.metadata, ev.recorded_at${personalKeys(keySchema)}
      FROM ${s}."streams" s
      LEFT JOIN ${s}."snapshots" sn ON sn.stream_id = s.stream_id AND sn.snapshot_version = $2::integer
      LEFT JOIN LATERAL (
        SELECT ${eventFields('e')}, row_number() OVER (ORDER BY e.stream_version) AS n
        FROM ${streamEvents(s, 'e.stream_id = s.stream_id AND e.stream_version >= greatest(coalesce(sn.stream_version, 0) + 1, s.truncate_before)', 'ASC', '$3::bigint')} e
        ORDER BY e.stream_version
        LIMIT $3::bigint
      ) ev ON true
      WHERE s.stream_id = $1::text
      ORDER BY ev.stream_version`;
  });
  return CompiledQuery.raw(text, [streamId, snapshotVersion, limit]) as CompiledQuery<StreamFromSnapshotRow>;
}

/** A row of readStreamFromSnapshotQuery: a stream read's row plus the snapshot's columns. */
export type StreamFromSnapshotRow = StreamReadRow & {
  stream_current_version: string | bigint | number;
  truncate_before: string | bigint | number;
  history_start: string | bigint | number;
  snapshot_stream_version: string | bigint | number | null;
  snapshot_state: unknown;
};

export function readSnapshotQuery(schema: string, streamId: string): CompiledQuery<SnapshotRow> {
  const text = cached(`snapshot\u0000${schema}`, () =>
    `SELECT snapshot_version, stream_version, state FROM ${quoteIdent(schema)}."snapshots" WHERE stream_id = $1::text`,
  );
  return CompiledQuery.raw(text, [streamId]) as CompiledQuery<SnapshotRow>;
}

export interface SnapshotRow {
  snapshot_version: number;
  stream_version: string | bigint | number;
  state: unknown;
}
