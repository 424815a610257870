import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';
import pg from 'pg';
import type { EventStoreTables } from '../../src/database/tables.js';
import { appendQuery } from '../../src/event-store/postgres/append-statement.js';
import { readAllQuery } from '../../src/event-store/postgres/reads.js';
import type { PreparedAppend } from '../../src/event-store/validation.js';
import { readDone, type Contestant, type LikeEvent, type ReadOptions } from './contestant.js';
import { openRawPool } from './raw-pg.js';

/**
 * Plain `pg` sending Annals' own statements: the append and the page of the global log
 * built by Annals' own builders (appendQuery, readAllQuery), run as named prepared
 * statements as Annals runs them. What it leaves out is everything Annals does in
 * Node.js around them: checking the input, serializing each event on its own, kysely's
 * driver, turning rows into events. So Annals / this is what the client costs, and this
 * / the minimal statement (RawPgContestant) is what Annals' SQL costs over the least
 * SQL that keeps streams and versions (issue 17).
 */
export class AnnalsSqlContestant implements Contestant {
  readonly #pool: pg.Pool;
  readonly #schema: string;
  /** Compiles readAllQuery's builder to text; never connects (kysely's DummyDriver). */
  readonly #compiler = new Kysely<EventStoreTables>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });

  private constructor(pool: pg.Pool, schema: string) {
    this.#pool = pool;
    this.#schema = schema;
  }

  /** Opens a pool on `schema`; with `migrate`, first creates Annals' tables there. */
  static async open(connectionString: string, schema: string, options: { maxConnections: number; migrate: boolean }): Promise<AnnalsSqlContestant> {
    return new AnnalsSqlContestant(await openRawPool(connectionString, schema, options), schema);
  }

  async append(streamId: string, events: readonly LikeEvent[], version: number): Promise<void> {
    const query = annalsAppend(this.#schema, streamId, events, version);
    const result = await this.#pool.query(query);
    if (result.rows[0]?.version === null || result.rows[0]?.version === undefined) {
      throw new Error(`${streamId}: expected version ${version} did not hold`);
    }
  }

  async readAll(options: ReadOptions): Promise<number> {
    const session = { executor: this.#compiler, schema: this.#schema };
    let read = 0;
    let after = 0n;
    for (;;) {
      const query = readAllQuery(session, { after, limit: options.batchSize }).compile();
      const { rows } = await this.#pool.query<{ global_position: string }>({ name: 'read_all', text: query.sql, values: [...query.parameters] });
      // Touch every row, as any consumer would (the other readers hand out each event).
      for (const row of rows) if (row.global_position) read += 1;
      options.onPage?.();
      if (rows.length < options.batchSize || readDone(read, options, performance.now())) return read;
      after = BigInt(rows.at(-1)!.global_position);
    }
  }

  close(): Promise<void> {
    return this.#pool.end();
  }
}

/**
 * Annals' append statement for `events` (appendQuery, outside a transaction) as a named
 * `pg` query, the events serialized as Annals serializes them but not checked.
 */
export function annalsAppend(schema: string, streamId: string, events: readonly LikeEvent[], version: number): { name: string; text: string; values: unknown[] } {
  const dash = streamId.indexOf('-');
  const append: PreparedAppend = {
    streamId,
    category: dash > 0 ? streamId.slice(0, dash) : streamId,
    expectedVersion: version === 0 ? 'no_stream' : version,
    events: events.map((event) => ({
      id: randomUUID(),
      idFromCaller: false,
      type: event.type,
      schemaVersion: 1,
      dataJson: JSON.stringify(event.data),
      metadataJson: JSON.stringify(event.metadata),
    })),
  };
  const query = appendQuery(schema, append, false);
  // One name per text: the text differs by the kind of expected version only.
  return { name: version === 0 ? 'append_new' : 'append_exact', text: query.sql, values: [...query.parameters] };
}
