import type { PGlite } from '@electric-sql/pglite';
import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';

/**
 * Presents one embedded PGlite database as the small part of `pg.Pool` that kysely's
 * PostgresDialect and the event store use, so the same store code serves both.
 *
 * PGlite is a single connection: two transactions interleaved on it would merge into
 * one. So `connect()` hands out the connection to one caller at a time, and the next
 * waits until the previous one calls `release()`.
 */
export class PGlitePool implements PostgresPool {
  readonly #db: PGlite;
  #queue: Promise<void> = Promise.resolve();

  constructor(db: PGlite) {
    this.#db = db;
  }

  async connect(): Promise<PostgresPoolClient> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const previous = this.#queue;
    this.#queue = previous.then(() => released);
    await previous;
    const db = this.#db;
    let done = false;
    const client = {
      async query<R>(text: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> {
        // Like pg, a query without parameters goes over the simple protocol, which runs
        // several statements at once (the migrator sends whole migration files).
        if (parameters.length === 0) {
          const results = await db.exec(text);
          const last = results.at(-1);
          return {
            command: commandOf(text),
            rowCount: last?.affectedRows ?? last?.rows.length ?? 0,
            rows: (last?.rows ?? []) as R[],
          };
        }
        const result = await db.query<R>(text, [...parameters]);
        return {
          command: commandOf(text),
          rowCount: result.affectedRows ?? result.rows.length,
          rows: result.rows,
        };
      },
      release() {
        if (done) return;
        done = true;
        release();
      },
    };
    return client as PostgresPoolClient;
  }

  /** PGlite's own LISTEN: notifications of this in-process database. */
  async listen(channel: string, onNotify: () => void): Promise<() => Promise<void>> {
    const unsubscribe = await this.#db.listen(channel, () => onNotify());
    return async () => {
      await unsubscribe();
    };
  }

  async end(): Promise<void> {
    await this.#queue;
    await this.#db.close();
  }
}

function commandOf(text: string): PostgresQueryResult<unknown>['command'] {
  const word = /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase();
  return word === 'INSERT' || word === 'UPDATE' || word === 'DELETE' || word === 'MERGE' ? word : 'SELECT';
}
