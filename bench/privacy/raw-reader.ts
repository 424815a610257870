/**
 * The practical limit of Annals' reads, plain and sealed, written by hand with `pg`: the
 * same rows by keyset (a page of the log, or a stream), and where rows hold sealed
 * fields, one query for the page's keys, each key unwrapped with the master key and each
 * field opened with node:crypto (crypto-limit.ts), as Annals does. It keeps, apart, the
 * time spent in the key query and in the crypto, so a report can say where a sealed
 * read's extra time goes.
 */
import pg from 'pg';
import { now, quoteIdent } from '../harness.js';
import { gcmOpen } from './crypto-limit.js';
import type { LogReader } from './privacy-workload.js';

interface SealedEntry {
  s: string;
  k: string;
  f: string[];
  c: string;
}

interface EventRow {
  global_position: string;
  event_id: string;
  data: Record<string, unknown>;
}

/** Milliseconds spent, and counts, since the last reset. */
export interface ReadParts {
  keyQueryMs: number;
  keyQueries: number;
  keysUnwrapped: number;
  unwrapMs: number;
  fieldsOpened: number;
  openMs: number;
}

const noParts = (): ReadParts => ({ keyQueryMs: 0, keyQueries: 0, keysUnwrapped: 0, unwrapMs: 0, fieldsOpened: 0, openMs: 0 });

const columns = 'global_position, stream_id, stream_version, event_id, type, schema_version, data, metadata, recorded_at';

export class RawReader implements LogReader {
  readonly #client: pg.Client;
  readonly #events: string;
  readonly #keys: string;
  readonly #masterKey: Buffer;
  #parts = noParts();

  private constructor(client: pg.Client, schema: string, keySchema: string, masterKey: Buffer) {
    this.#client = client;
    this.#events = `${quoteIdent(schema)}."events"`;
    this.#keys = `${quoteIdent(keySchema)}."data_keys"`;
    this.#masterKey = masterKey;
  }

  static async open(connectionString: string, schema: string, masterKey: Buffer): Promise<RawReader> {
    const client = new pg.Client({ connectionString });
    await client.connect();
    return new RawReader(client, schema, `${schema}#keys`, masterKey);
  }

  /** The parts measured since the last call, and a fresh start. */
  takeParts(): ReadParts {
    const parts = this.#parts;
    this.#parts = noParts();
    return parts;
  }

  async readPage(after: bigint, limit: number): Promise<{ count: number; last: bigint | undefined }> {
    const { rows } = await this.#client.query<EventRow>({
      name: 'bench_page',
      text: `SELECT ${columns} FROM ${this.#events} WHERE global_position > $1 ORDER BY global_position LIMIT $2`,
      values: [after.toString(), limit],
    });
    await this.#reveal(rows);
    return { count: rows.length, last: rows.length > 0 ? BigInt(rows.at(-1)!.global_position) : undefined };
  }

  async readStream(streamId: string): Promise<number> {
    const { rows } = await this.#client.query<EventRow>({
      name: 'bench_stream',
      text: `SELECT ${columns} FROM ${this.#events} WHERE stream_id = $1 ORDER BY stream_version`,
      values: [streamId],
    });
    await this.#reveal(rows);
    return rows.length;
  }

  async close(): Promise<void> {
    await this.#client.end();
  }

  /** Opens the sealed fields of `rows` in place: one key query for all of them. */
  async #reveal(rows: EventRow[]): Promise<void> {
    const ids = new Set<string>();
    for (const row of rows) for (const entry of entriesOf(row) ?? []) ids.add(entry.k);
    if (ids.size === 0) return;
    let started = now();
    const { rows: keyRows } = await this.#client.query<{ key_id: string; subject: string; wrapped: Buffer }>({
      name: 'bench_keys',
      text: `SELECT key_id, subject, wrapped, master_key FROM ${this.#keys} WHERE key_id = ANY($1::uuid[])`,
      values: [[...ids]],
    });
    this.#parts.keyQueryMs += now() - started;
    this.#parts.keyQueries += 1;
    started = now();
    const keys = new Map(keyRows.map((row) => [row.key_id, gcmOpen(this.#masterKey, row.wrapped, `${row.key_id}\u0000${row.subject}`)]));
    this.#parts.unwrapMs += now() - started;
    this.#parts.keysUnwrapped += keyRows.length;
    started = now();
    for (const row of rows) {
      const entries = entriesOf(row);
      if (!entries) continue;
      const { $personal: _sealed, ...data } = row.data;
      for (const entry of entries) {
        const key = keys.get(entry.k);
        if (!key) {
          for (const field of entry.f) data[field] = null;
          continue;
        }
        Object.assign(data, JSON.parse(gcmOpen(key, Buffer.from(entry.c, 'base64'), `${row.event_id}\u0000${entry.s}`).toString('utf8')));
        this.#parts.fieldsOpened += 1;
      }
      row.data = data;
    }
    this.#parts.openMs += now() - started;
  }
}

function entriesOf(row: EventRow): SealedEntry[] | undefined {
  return row.data.$personal as SealedEntry[] | undefined;
}
