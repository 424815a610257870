/**
 * The steps of `npm run bench:append-cost`: Annals' append statement, then the same with
 * one more piece taken away at each step, down to a plain INSERT into a minimal table.
 * What a step gains over the one before it is what the piece it removes costs.
 *
 * Steps 2 to 5 edit the text appendQuery builds; an edit that no longer matches (the
 * statement changed) stops the benchmark rather than measure the wrong thing.
 */
import { annalsAppend } from '../contestants/annals-sql.js';
import type { LikeEvent } from '../contestants/contestant.js';
import { minimalAppendText, minimalAppendValues, positionBits } from '../contestants/raw-pg.js';
import { quoteIdent } from '../harness.js';

export interface Statement {
  name: string;
  text: string;
  values: unknown[];
}

export interface Step {
  key: string;
  /** What the step's statement does, or what it leaves out compared with the step before. */
  label: string;
  /** Run on the step's schema once Annals' migration has created its tables. */
  setup: (schema: string) => string[];
  statement: (schema: string, streamId: string, events: readonly LikeEvent[], version: number) => Statement;
  /** How a step's result says the events went in: Annals' statement returns the new version (null when the expected version did not hold), the others one row per event. */
  result: 'version' | 'row-count';
}

type Edit = { what: string; pattern: RegExp; replacement: string };

/** Taken away one after another from Annals' statement (src/event-store/postgres/append-statement.ts). */
const edits: Edit[] = [
  {
    what: 'appender lock',
    pattern: /pg_advisory_xact_lock_shared\(\d+, \d+\)::text AS done/,
    replacement: `'held'::text AS done`,
  },
  {
    what: 'log-ahead check',
    pattern: /SELECT CASE\s+WHEN \(SELECT max\(global_position\)[\s\S]*?ELSE (\(tx\.xid \+ o\.xid_offset\) << \d+) END AS base/,
    replacement: 'SELECT $1 AS base',
  },
  {
    what: 'archive probe',
    pattern: /archived AS \(\s*SELECT CASE WHEN \(SELECT archived_events[\s\S]*?END AS event_id\s*\),/,
    replacement: 'archived AS (SELECT NULL::uuid AS event_id),',
  },
  {
    what: 'per-stream order check',
    pattern: /last_position = CASE WHEN s\.last_position[\s\S]*?ELSE (excluded\.last_position|position\.first \+ \$3::bigint - 1) END/,
    replacement: 'last_position = $1',
  },
];

const edited = new Map<string, string>();

/** Annals' statement with the first `count` edits applied. */
function annalsWithout(count: number): Step['statement'] {
  return (schema, streamId, events, version) => {
    const statement = annalsAppend(schema, streamId, events, version);
    const key = `${count}\u0000${statement.text}`;
    let text = edited.get(key);
    if (text === undefined) {
      let next: string = statement.text;
      for (const edit of edits.slice(0, count)) {
        const before = next;
        next = next.replace(edit.pattern, edit.replacement);
        if (next === before) throw new Error(`bench/append-cost: the ${edit.what} is no longer where this benchmark looks for it in appendQuery's text`);
      }
      edited.set(key, next);
      text = next;
    }
    return { name: statement.name, text, values: statement.values };
  };
}

const table = (schema: string, name: string) => `${quoteIdent(schema)}.${quoteIdent(name)}`;

function minimal(schema: string, streamId: string, events: readonly LikeEvent[], version: number): Statement {
  return {
    name: `minimal_${events.length}`,
    text: minimalAppendText(table(schema, 'streams'), table(schema, 'events'), events.length, 'xid'),
    values: minimalAppendValues(streamId, events, version),
  };
}

/** The events alone: the version is checked by the unique (stream_id, stream_version) index. */
function eventsOnly(schema: string, streamId: string, events: readonly LikeEvent[], version: number): Statement {
  const rows = events.map((_, index) => {
    const at = 4 + index * 4;
    return `(${index + 1}, $${at}::uuid, $${at + 1}::text, $${at + 2}::jsonb, $${at + 3}::jsonb)`;
  });
  return {
    name: `events_only_${events.length}`,
    text: `INSERT INTO ${table(schema, 'events')}
        (global_position, stream_id, stream_version, event_id, category, type, schema_version, data, metadata)
      SELECT (pg_current_xact_id()::text::bigint << ${positionBits}) + v.ord - 1, $1, $3::bigint + v.ord, v.id, $2, v.type, 1, v.data, v.metadata
      FROM (VALUES ${rows.join(', ')}) AS v(ord, id, type, data, metadata)`,
    values: minimalAppendValues(streamId, events, version),
  };
}

/** The physical limit: a bigserial position, a plain multi-row INSERT, one index. */
function plainInsert(schema: string, streamId: string, events: readonly LikeEvent[]): Statement {
  const values: unknown[] = [streamId];
  const rows = events.map((event, index) => {
    values.push(event.type, JSON.stringify(event.data), JSON.stringify(event.metadata));
    return `($1, $${2 + index * 3}, $${3 + index * 3}::jsonb, $${4 + index * 3}::jsonb)`;
  });
  return { name: `plain_${events.length}`, text: `INSERT INTO ${table(schema, 'log')} (stream_id, type, data, metadata) VALUES ${rows.join(', ')}`, values };
}

const noSetup = () => [];
const dropEventIdKey = (schema: string) => [`ALTER TABLE ${table(schema, 'events')} DROP CONSTRAINT events_event_id_key`];
const dropLogIndexes = (schema: string) => [
  ...dropEventIdKey(schema),
  `DROP INDEX ${quoteIdent(schema)}.events_type_position_idx`,
  `DROP INDEX ${quoteIdent(schema)}.events_category_position_idx`,
];

export const steps: Step[] = [
  { key: 'annals', label: "Annals' append statement", setup: noSetup, statement: annalsWithout(0), result: 'version' },
  ...edits.map((edit, index) => ({
    key: `annals-${index + 1}`,
    label: `without the ${edit.what}`,
    setup: noSetup,
    statement: annalsWithout(index + 1),
    result: 'version' as const,
  })),
  {
    key: 'minimal',
    label: 'minimal statement (upsert of the stream row, typed parameters instead of one JSON array)',
    setup: noSetup,
    statement: minimal,
    result: 'row-count',
  },
  { key: 'no-event-id', label: 'without the unique index on event_id', setup: dropEventIdKey, statement: minimal, result: 'row-count' },
  {
    key: 'no-stream-row',
    label: 'without the stream row (the version checked by the unique (stream_id, stream_version) index)',
    setup: dropEventIdKey,
    statement: eventsOnly,
    result: 'row-count',
  },
  {
    key: 'no-log-indexes',
    label: 'without the (type, position) and (category, position) indexes',
    setup: dropLogIndexes,
    statement: eventsOnly,
    result: 'row-count',
  },
  {
    key: 'plain',
    label: 'minimal table: bigserial position, plain INSERT, no version check, primary key only',
    setup: (schema) => [
      `CREATE TABLE ${table(schema, 'log')} (position bigserial PRIMARY KEY, stream_id text NOT NULL, type text NOT NULL, data jsonb NOT NULL, metadata jsonb NOT NULL)`,
    ],
    statement: (schema, streamId, events) => plainInsert(schema, streamId, events),
    result: 'row-count',
  },
];
