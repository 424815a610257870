import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createEventStore } from '../../src/index.js';
import { quoteIdent } from '../harness.js';
import { readDone, type Contestant, type LikeEvent, type ReadOptions } from './contestant.js';

/**
 * How the raw variant numbers the global log:
 * - `xid`: Annals' own formula, (transaction id << 20) + n-th event of the transaction,
 *   and reads bounded by the snapshot's xmin, exactly as Annals does (the same SQL work);
 * - `bigserial`: a plain sequence default and unbounded keyset reads, the usual way to
 *   number a log, which can skip events committed out of order. It is the baseline that
 *   prices Annals' gap safety; informative only.
 */
export type PositionMode = 'xid' | 'bigserial';

/** Low bits of a position numbering the events of one transaction (as in Annals). */
export const positionBits = 20;

/**
 * The practical limit of the SQL work Annals does, written by hand with `pg`: the same
 * tables (created by Annals' migration), one statement per append (stream row upsert
 * with the version check + one multi-row INSERT of the events), named prepared
 * statements, no validation or mapping of rows. It does not probe for positions already
 * used by the transaction, as Annals must for several appends in one transaction: here
 * every append is its own transaction.
 */
export class RawPgContestant implements Contestant {
  readonly #pool: pg.Pool;
  readonly #streams: string;
  readonly #events: string;
  readonly #mode: PositionMode;
  readonly #appendStatements = new Map<number, string>();

  private constructor(pool: pg.Pool, schema: string, mode: PositionMode) {
    this.#pool = pool;
    this.#streams = `${quoteIdent(schema)}.streams`;
    this.#events = `${quoteIdent(schema)}.events`;
    this.#mode = mode;
  }

  /**
   * Opens a pool on `schema`; with `migrate`, first creates Annals' tables there (and, in
   * `bigserial` mode, gives global_position a sequence default). Without it the schema
   * must exist already (the read figure reads the log Annals wrote).
   */
  static async open(
    connectionString: string,
    schema: string,
    options: { maxConnections: number; mode: PositionMode; migrate: boolean },
  ): Promise<RawPgContestant> {
    const pool = await openRawPool(connectionString, schema, options);
    const contestant = new RawPgContestant(pool, schema, options.mode);
    if (options.migrate && options.mode === 'bigserial') {
      const sequence = `${quoteIdent(schema)}.events_global_position_seq`;
      await pool.query(`CREATE SEQUENCE ${sequence} OWNED BY ${contestant.#events}.global_position`);
      await pool.query(`ALTER TABLE ${contestant.#events} ALTER COLUMN global_position SET DEFAULT nextval('${sequence}')`);
    }
    return contestant;
  }

  async append(streamId: string, events: readonly LikeEvent[], version: number): Promise<void> {
    const values = minimalAppendValues(streamId, events, version);
    const result = await this.#pool.query({ name: `append_${events.length}`, text: this.#appendText(events.length), values });
    if (result.rowCount !== events.length) throw new Error(`${streamId}: expected version ${version} did not hold`);
  }

  #appendText(count: number): string {
    let text = this.#appendStatements.get(count);
    if (text === undefined) {
      text = minimalAppendText(this.#streams, this.#events, count, this.#mode);
      this.#appendStatements.set(count, text);
    }
    return text;
  }

  /** Keyset paging on global_position; in `xid` mode bounded by xmin as Annals does. */
  async readAll(options: ReadOptions): Promise<number> {
    const bound =
      this.#mode === 'xid' ? `AND global_position < (pg_snapshot_xmin(pg_current_snapshot())::text::bigint << ${positionBits})` : '';
    const text = `SELECT * FROM ${this.#events} WHERE global_position > $1 ${bound} ORDER BY global_position LIMIT $2`;
    let read = 0;
    let after = '0';
    for (;;) {
      const { rows } = await this.#pool.query<{ global_position: string }>({
        name: `read_${this.#mode}`,
        text,
        values: [after, options.batchSize],
      });
      // Touch every row, as any consumer would (the other readers hand out each event).
      for (const row of rows) if (row.global_position) read += 1;
      options.onPage?.();
      if (rows.length < options.batchSize || readDone(read, options, performance.now())) return read;
      after = rows.at(-1)!.global_position;
    }
  }

  close(): Promise<void> {
    return this.#pool.end();
  }
}

/**
 * The least statement that keeps streams and versions: the stream row moves forward only
 * if its version is the expected one (a new stream is inserted), and the events go in
 * with one multi-row INSERT that writes nothing when the stream row did not match.
 * Parameters: $1 stream id, $2 category, $3 expected version, then id, type, data and
 * metadata of each event. Also a step of bench/append-cost.
 */
export function minimalAppendText(streams: string, events: string, count: number, mode: PositionMode): string {
  const rows = Array.from({ length: count }, (_, index) => {
    const at = 4 + index * 4;
    return `(${index + 1}, $${at}::uuid, $${at + 1}::text, $${at + 2}::jsonb, $${at + 3}::jsonb)`;
  });
  const xid = mode === 'xid';
  return `
      WITH stream AS (
        INSERT INTO ${streams} AS s (stream_id, category, version) VALUES ($1, $2, $3::bigint + ${count})
        ON CONFLICT (stream_id) DO UPDATE SET version = s.version + ${count}, updated_at = now()
          WHERE s.version = $3::bigint AND s.deleted_at IS NULL
        RETURNING version
      )
      INSERT INTO ${events}
        (${xid ? 'global_position, ' : ''}stream_id, stream_version, event_id, category, type, schema_version, data, metadata)
      SELECT ${xid ? `(pg_current_xact_id()::text::bigint << ${positionBits}) + v.ord - 1, ` : ''}
        $1, stream.version - ${count} + v.ord, v.id, $2, v.type, 1, v.data, v.metadata
      FROM stream, (VALUES ${rows.join(', ')}) AS v(ord, id, type, data, metadata)`;
}

/** The parameters of minimalAppendText for `events`. */
export function minimalAppendValues(streamId: string, events: readonly LikeEvent[], version: number): unknown[] {
  const dash = streamId.indexOf('-');
  const values: unknown[] = [streamId, dash > 0 ? streamId.slice(0, dash) : streamId, version];
  for (const event of events) values.push(randomUUID(), event.type, JSON.stringify(event.data), JSON.stringify(event.metadata));
  return values;
}

/**
 * A plain `pg` pool on `schema` for the raw contestants; with `migrate`, Annals' migration
 * first creates its tables there (the raw contestants work on Annals' own tables).
 */
export async function openRawPool(connectionString: string, schema: string, options: { maxConnections: number; migrate: boolean }): Promise<pg.Pool> {
  if (options.migrate) {
    const store = createEventStore({ connectionString, maxConnections: 1 }, { schema });
    await store.migrate();
    await store.close();
  }
  const pool = new pg.Pool({ connectionString, max: options.maxConnections });
  pool.on('error', () => {});
  return pool;
}
