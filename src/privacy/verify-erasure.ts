import { CompiledQuery, sql, type Kysely } from 'kysely';
import type { EventStoreTables } from '../database/tables.js';
import { eventColumns } from '../event-store/postgres/reads.js';
import { toRecordedEvent, type EventRow } from '../event-store/postgres/read-statements.js';
import type { EventStore } from '../event-store/event-store.js';
import { ValidationError, type ValidationIssue } from '../errors.js';
import { quoteIdent } from '../database/quote-ident.js';
import { isVersioned, type EventSchemas } from '../event-schemas/versioned-event.js';
import { parseInput } from '../validation.js';
import type { AnyProjection } from '../projections/define-projection.js';
import { erasedText, personalFieldsOf } from './personal-fields.js';
import { personalKey, revealEvents } from './personal-data.js';
import { privacyOf } from './store-privacy.js';
import { nameRules } from '../event-store/validation.js';
import { forgottenStream } from './tombstones.js';

/** Where plaintext of a subject was found: the kind of place, how many rows, a few of them. */
export interface ErasureFinding {
  place: 'key' | 'events' | 'snapshots' | 'read-model' | 'outbox' | 'dead-letters';
  /** What holds it, for people: `snapshots of 2 streams`, `read model account-balances: accounts.owner`. */
  what: string;
  count: number;
  /** A few of the rows: stream ids, positions or read-model keys. */
  examples: string[];
}

export interface ErasureReport {
  subject: string;
  /** The subject has no key: every personal field sealed for them reads redacted. */
  forgotten: boolean;
  /** How many distinct plaintext values were searched for (values under 3 characters are not). */
  valuesSearched: number;
  findings: ErasureFinding[];
  /** Forgotten, and no plaintext found anywhere checked. */
  clean: boolean;
}

export interface VerifyErasureOptions {
  /** Projections whose `personalData` columns are checked. */
  projections?: readonly AnyProjection[];
  /**
   * Plaintext to search the log, snapshots, read models and parked messages for. Default:
   * the subject's personal fields, opened with their key while it exists; after `forget`
   * they are unknowable, so pass what you know (an email address, a name).
   */
  values?: readonly string[];
}

/** Shorter values are not searched for: they would match almost anything. */
export const minSearchLength = 3;
const maxExamples = 3;

/**
 * Checks that a data subject's personal data is gone (`annals privacy verify`): that no
 * key of theirs remains; that no snapshot of a stream holding their fields remains; that
 * no event (outside sealed fields), snapshot, parked outbox message or declared read-model
 * column holds one of their plaintext values; and that the declared read-model columns
 * of the subject's rows hold only redacted values. Run before `forget`, it shows where
 * their plaintext lives outside the sealed fields.
 */
export async function verifyErasure(store: EventStore, subject: string, options: VerifyErasureOptions = {}): Promise<ErasureReport> {
  const checked = parseInput(nameRules('data subject'), subject, 'subject');
  const privacy = privacyOf(store);
  const forgotten = !(await store.read((db) => privacy.keyStore.hasKey(checked, db)));
  const given = options.values ?? (forgotten ? [] : await subjectValues(store, checked));
  const values = [...new Set(given.filter((value) => value.length >= minSearchLength))];
  const findings: ErasureFinding[] = [];
  if (!forgotten) findings.push({ place: 'key', what: 'the subject still has a data key: their personal fields can be read', count: 1, examples: [] });
  await store.read(async (db: Kysely<EventStoreTables>) => {
    const t = db.withSchema(store.schema);
    const streams = t.selectFrom('personal_streams').select('stream_id').where('subject', '=', checked);
    // Snapshots saved before the last forget that its transaction did not drop: those
    // saved after it were refused if their state was read before it (snapshots.ts in
    // event-store/postgres), so they hold redacted values.
    const forgottenAt = await t
      .selectFrom('events_all')
      .select((eb) => eb.fn.max('recorded_at').as('at'))
      .where('stream_id', '=', forgottenStream)
      .where(sql<boolean>`data->>'subject' = ${checked}`)
      .executeTakeFirst();
    const snapshots =
      forgotten && forgottenAt?.at
        ? await t.selectFrom('snapshots').select('stream_id').where('stream_id', 'in', streams).where('created_at', '<=', forgottenAt.at).execute()
        : [];
    if (snapshots.length > 0) {
      findings.push({ place: 'snapshots', what: 'snapshots of streams holding the subject\'s fields, saved before they were forgotten', count: snapshots.length, examples: snapshots.slice(0, maxExamples).map((r) => r.stream_id) });
    }
    if (values.length === 0) return;
    const holding = (column: string) => sql<boolean>`EXISTS (SELECT 1 FROM unnest(${values}::text[]) AS v(value) WHERE strpos(${sql.raw(column)}::text, v.value) > 0)`;
    // One pass over the log (the search reads every event: see docs/privacy.md).
    const hits = await t
      .selectFrom('events_all')
      .select(['stream_id', 'global_position'])
      .where((eb) => eb.or([holding('data'), holding('metadata')]))
      .orderBy('global_position')
      .execute();
    if (hits.length > 0) findings.push({ place: 'events', what: 'events holding the plaintext outside sealed fields', count: hits.length, examples: hits.slice(0, maxExamples).map((r) => `${r.stream_id}@${r.global_position}`) });
    const states = await t.selectFrom('snapshots').select('stream_id').where(holding('state')).execute();
    if (states.length > 0) findings.push({ place: 'snapshots', what: 'snapshots holding the plaintext', count: states.length, examples: states.slice(0, maxExamples).map((r) => r.stream_id) });
    const parked = await sql<{ outbox: string; message_id: string }>`SELECT outbox, message_id FROM ${sql.id(store.schema, 'outbox_parked_messages')} WHERE ${holding('error')}`.execute(db);
    if (parked.rows.length > 0) findings.push({ place: 'outbox', what: 'parked outbox messages whose error holds the plaintext', count: parked.rows.length, examples: parked.rows.slice(0, maxExamples).map((r) => `${r.outbox}/${r.message_id}`) });
    // A handler's error (a refused value quoted in its message) is kept with its dead letter.
    const dead = await sql<{ consumer: string; global_position: string }>`SELECT consumer, global_position::text FROM ${sql.id(store.schema, 'consumer_dead_letters')}
      WHERE ${holding('error_message')} OR ${holding('coalesce(error_stack, \'\')')}`.execute(db);
    if (dead.rows.length > 0) findings.push({ place: 'dead-letters', what: 'dead letters whose error holds the plaintext', count: dead.rows.length, examples: dead.rows.slice(0, maxExamples).map((r) => `${r.consumer}@${r.global_position}`) });
  });
  for (const projection of options.projections ?? []) findings.push(...(await readModelFindings(store, projection, checked, values)));
  return { subject: checked, forgotten, valuesSearched: values.length, findings, clean: forgotten && findings.length === 0 };
}

/** The plaintext values of a subject's personal fields, opened with their key (none once forgotten). */
export async function subjectValues(store: EventStore, subject: string): Promise<string[]> {
  const privacy = privacyOf(store);
  const values = new Set<string>();
  let after = '-1';
  for (;;) {
    const page = await store.read(async (db: Kysely<EventStoreTables>) => {
      const rows = await db
        .withSchema(store.schema)
        .selectFrom('events_all')
        .select(eventColumns)
        .where('stream_id', 'in', (eb) => eb.selectFrom('personal_streams').select('stream_id').where('subject', '=', subject))
        .where(sql<boolean>`data ? ${personalKey}`)
        .where('global_position', '>', after)
        .orderBy('global_position')
        .limit(1000)
        .execute();
      const stored = rows.map((row) => toRecordedEvent(row as EventRow));
      return { stored, opened: await revealEvents(privacy, db, stored) };
    });
    page.stored.forEach((event, index) => {
      const entries = (event.data as Record<string, unknown>)[personalKey] as { s: string; f: string[] }[];
      const data = page.opened[index]!.data as Record<string, unknown>;
      for (const entry of entries.filter((e) => e.s === subject)) {
        for (const field of entry.f) {
          for (const text of searchableTexts(data[field])) values.add(text);
        }
      }
    });
    if (page.stored.length < 1000) return [...values];
    after = page.stored.at(-1)!.globalPosition.toString();
  }
}

/**
 * The texts to search for a value: each string in it (an object's or array's too, whose
 * JSON the database formats its own way) as written and as JSON escapes it (how `jsonb`
 * shows a quote or a backslash), and each number.
 */
function searchableTexts(value: unknown): string[] {
  if (typeof value === 'string') {
    const escaped = JSON.stringify(value).slice(1, -1);
    return escaped === value ? [value] : [value, escaped];
  }
  if (typeof value === 'number' || typeof value === 'bigint') return [String(value)];
  if (Array.isArray(value)) return value.flatMap(searchableTexts);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(searchableTexts);
  return [];
}

/** The subject's rows whose declared personal columns hold more than a redacted value, and any row holding a value. */
async function readModelFindings(store: EventStore, projection: AnyProjection, subject: string, values: string[]): Promise<ErasureFinding[]> {
  const declared = projection.definition.personalData ?? [];
  if (declared.length === 0) return [];
  const redacted = [...new Set(['null', JSON.stringify(erasedText), ...redactedValuesOf(projection)])];
  const findings: ErasureFinding[] = [];
  await store.read(async (db) => {
    const { rows: generations } = await sql<{ schema_name: string; generation: number }>`
      SELECT schema_name, generation FROM ${sql.id(store.schema, 'projection_generations')}
      WHERE projection = ${projection.name} AND status <> 'retired' ORDER BY generation`.execute(db);
    for (const { schema_name: schema } of generations) {
      for (const { table, subject: subjectColumn, columns } of declared) {
        const target = `${quoteIdent(schema)}.${quoteIdent(table)}`;
        const cells = columns.map((column) => `to_jsonb(${quoteIdent(column)})::text`);
        const unredacted = cells.map((cell) => `${cell} <> ALL($2::text[])`).join(' OR ');
        const key = `${quoteIdent(subjectColumn)}::text`;
        const holding = cells.map((cell) => `strpos(${cell}, v.value) > 0`).join(' OR ');
        // One condition, so a row that is both the subject's and holding a value counts once.
        const text =
          `SELECT ${key} AS key FROM ${target} WHERE (${key} = $1 AND (${unredacted}))` +
          (values.length > 0 ? ` OR EXISTS (SELECT 1 FROM unnest($3::text[]) v(value) WHERE ${holding})` : '');
        const { rows } = await db.executeQuery(
          CompiledQuery.raw(text, values.length > 0 ? [subject, redacted, values] : [subject, redacted]) as CompiledQuery<{ key: string }>,
        );
        if (rows.length > 0) {
          findings.push({
            place: 'read-model',
            what: `read model ${projection.name}: ${table}.${columns.join(', ')} (rebuild it to rewrite them redacted)`,
            count: rows.length,
            examples: [...new Set(rows.map((row) => row.key))].slice(0, maxExamples),
          });
        }
      }
    }
  });
  return findings;
}

function redactedValuesOf(projection: AnyProjection): string[] {
  const issues: ValidationIssue[] = [];
  const values = Object.entries(projection.definition.events as EventSchemas).flatMap(([type, definition]) =>
    personalFieldsOf(isVersioned(definition) ? definition.schema : definition, `events.${type}`, issues).map((field) => JSON.stringify(field.redacted)),
  );
  if (issues.length > 0) throw new ValidationError(issues);
  return values;
}
