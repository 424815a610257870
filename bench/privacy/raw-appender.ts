/**
 * The practical limit of Annals' appends, plain and sealed, written by hand with `pg`:
 * the statement of bench/contestants/raw-pg.ts (stream row moved forward with the version
 * check, one multi-row INSERT of the events, positions from the transaction id), in a
 * schema of its own made by Annals' migration. Sealed, each append first looks up the
 * subject's key (one prepared query against the sealed store's key table), unwraps it,
 * and seals each event's personal field with node:crypto, as Annals does; it records no
 * `personal_streams` row (Annals records one per subject and stream, once per process).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createEventStore, type NewEvent } from '../../src/index.js';
import { quoteIdent } from '../harness.js';
import { gcmOpen, gcmSeal } from './crypto-limit.js';

export class RawAppender {
  readonly #pool: pg.Pool;
  readonly #streams: string;
  readonly #events: string;
  readonly #keys: string;
  readonly #masterKey: Buffer;
  readonly #versions = new Map<string, number>();
  readonly #texts = new Map<number, string>();

  private constructor(pool: pg.Pool, schema: string, keySchema: string, masterKey: Buffer) {
    this.#pool = pool;
    this.#streams = `${quoteIdent(schema)}."streams"`;
    this.#events = `${quoteIdent(schema)}."events"`;
    this.#keys = `${quoteIdent(keySchema)}."data_keys"`;
    this.#masterKey = masterKey;
  }

  /** Creates Annals' tables in `schema`; sealed appends take their keys from `keySchema`'s. */
  static async open(connectionString: string, options: { schema: string; keySchema: string; masterKey: Buffer; maxConnections: number }): Promise<RawAppender> {
    const store = createEventStore({ connectionString, maxConnections: 1 }, { schema: options.schema });
    await store.migrate();
    await store.close();
    const pool = new pg.Pool({ connectionString, max: options.maxConnections });
    pool.on('error', () => {});
    return new RawAppender(pool, options.schema, options.keySchema, options.masterKey);
  }

  /** Appends `events` (all of one subject when sealed) to a stream this caller alone writes to. */
  async append(streamId: string, events: readonly NewEvent[]): Promise<void> {
    const subject = events[0]?.personal?.[0]?.subject;
    const key = subject === undefined ? undefined : await this.#keyOf(subject);
    const version = this.#versions.get(streamId) ?? (await this.#versionOf(streamId));
    const dash = streamId.indexOf('-');
    const values: unknown[] = [streamId, dash > 0 ? streamId.slice(0, dash) : streamId, version];
    for (const event of events) {
      const id = randomUUID();
      values.push(id, event.type, key && subject !== undefined ? sealedJson(event, id, subject, key) : JSON.stringify(event.data), '{}');
    }
    const result = await this.#pool.query({ name: `bench_raw_append_${events.length}`, text: this.#appendText(events.length), values });
    if (result.rowCount !== events.length) throw new Error(`${streamId}: expected version ${version} did not hold`);
    this.#versions.set(streamId, version + events.length);
  }

  close(): Promise<void> {
    return this.#pool.end();
  }

  async #keyOf(subject: string): Promise<{ keyId: string; key: Buffer }> {
    const { rows } = await this.#pool.query<{ key_id: string; subject: string; wrapped: Buffer }>({
      name: 'bench_raw_key',
      text: `SELECT key_id, subject, wrapped, master_key FROM ${this.#keys} WHERE subject = ANY($1::text[])`,
      values: [[subject]],
    });
    const row = rows[0];
    if (!row) throw new Error(`no key for subject ${subject}: the sealed store makes them in its warm-up`);
    return { keyId: row.key_id, key: gcmOpen(this.#masterKey, row.wrapped, `${row.key_id}\u0000${row.subject}`) };
  }

  async #versionOf(streamId: string): Promise<number> {
    const { rows } = await this.#pool.query<{ version: string }>(`SELECT version FROM ${this.#streams} WHERE stream_id = $1`, [streamId]);
    return Number(rows[0]?.version ?? 0);
  }

  #appendText(count: number): string {
    const cached = this.#texts.get(count);
    if (cached) return cached;
    const rows = Array.from({ length: count }, (_, index) => {
      const at = 4 + index * 4;
      return `(${index + 1}, $${at}::uuid, $${at + 1}::text, $${at + 2}::jsonb, $${at + 3}::jsonb)`;
    });
    const text = `
      WITH stream AS (
        INSERT INTO ${this.#streams} AS s (stream_id, category, version) VALUES ($1, $2, $3::bigint + ${count})
        ON CONFLICT (stream_id) DO UPDATE SET version = s.version + ${count}, updated_at = now()
          WHERE s.version = $3::bigint AND s.deleted_at IS NULL
        RETURNING version
      )
      INSERT INTO ${this.#events} (global_position, stream_id, stream_version, event_id, category, type, schema_version, data, metadata)
      SELECT (pg_current_xact_id()::text::bigint << 20) + v.ord - 1, $1, stream.version - ${count} + v.ord, v.id, $2, v.type, 1, v.data, v.metadata
      FROM stream, (VALUES ${rows.join(', ')}) AS v(ord, id, type, data, metadata)`;
    this.#texts.set(count, text);
    return text;
  }
}

/** The event's data as Annals stores it: personal fields out, sealed under `$personal`. */
function sealedJson(event: NewEvent, id: string, subject: string, key: { keyId: string; key: Buffer }): string {
  const rest: Record<string, unknown> = { ...(event.data as Record<string, unknown>) };
  const fields = event.personal![0]!.fields;
  const picked: Record<string, unknown> = {};
  for (const field of fields) {
    picked[field] = rest[field];
    delete rest[field];
  }
  const sealed = gcmSeal(key.key, Buffer.from(JSON.stringify(picked), 'utf8'), `${id}\u0000${subject}`);
  rest.$personal = [{ s: subject, k: key.keyId, f: fields, c: sealed.toString('base64') }];
  return JSON.stringify(rest);
}
