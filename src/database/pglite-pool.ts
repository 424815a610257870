import type { PGlite } from '@electric-sql/pglite';
import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import { fileSystemPath, lockDataDir } from './pglite-lock.js';

/**
 * What `connect()` rejects with when the connection did not come free within
 * `connectionTimeoutMs`: pg-pool's own message for the same case, so the connection
 * layer turns both into one typed error.
 */
export const poolTimeoutMessage = 'timeout exceeded when trying to connect';

/**
 * Opens the PGlite database in `dataDir` (`'memory://'` for an in-memory one) as a pool.
 * A data directory on disk is locked first (pglite-lock.ts), so no second store opens it.
 * `connectionTimeoutMs` (0: for ever, the default) bounds a caller's wait for the connection.
 *
 * @throws StoreLockedError when another store holds the directory past `lockTimeoutMs`.
 */
export async function openPGlitePool(
  dataDir: string,
  options: { lockTimeoutMs?: number; connectionTimeoutMs?: number } = {},
): Promise<PGlitePool> {
  const path = fileSystemPath(dataDir);
  const lock = path === undefined ? undefined : await lockDataDir(path, options.lockTimeoutMs ?? 0);
  try {
    // Loaded on first use: apps on a real Postgres never load the WASM build.
    const { PGlite, types } = await import('@electric-sql/pglite');
    // int8 as bigint, not as a lossy JS number: global positions go past 2^53.
    const database = await PGlite.create(dataDir, {
      parsers: { [types.INT8]: (value: string) => BigInt(value) },
    });
    return new PGlitePool(database, async () => lock?.release(), options.connectionTimeoutMs ?? 0);
  } catch (error) {
    await lock?.release();
    throw error;
  }
}

/**
 * Presents one embedded PGlite database as the small part of `pg.Pool` that kysely's
 * PostgresDialect and the event store use, so the same store code serves both.
 *
 * PGlite is a single connection: two transactions interleaved on it would merge into
 * one. So `connect()` hands out the connection to one caller at a time, and the next
 * waits until the previous one calls `release()`, for `connectionTimeoutMs` at most: a
 * `withTransaction` callback that calls the store instead of its `tx` waits for the
 * connection its own transaction holds, which without a bound hung for ever.
 */
export class PGlitePool implements PostgresPool {
  readonly #db: PGlite;
  readonly #onEnd: () => Promise<void>;
  readonly #timeoutMs: number;
  #queue: Promise<void> = Promise.resolve();
  #ended: Promise<void> | undefined;

  /** `onEnd` runs once the database is closed (it releases the directory's lock). */
  constructor(db: PGlite, onEnd: () => Promise<void> = async () => {}, connectionTimeoutMs = 0) {
    this.#db = db;
    this.#onEnd = onEnd;
    this.#timeoutMs = connectionTimeoutMs;
  }

  async connect(): Promise<PostgresPoolClient> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const previous = this.#queue;
    this.#queue = previous.then(() => released);
    await this.#turn(previous, release);
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

  /**
   * PGlite's own LISTEN: notifications of this in-process database. PGlite sends the
   * LISTEN (and the UNLISTEN) on its one connection, so it waits its turn like `connect()`:
   * sent while another caller's transaction was open, it joined that transaction, and a
   * rollback undid it, leaving the listener deaf (issue 10).
   */
  async listen(channel: string, onNotify: () => void): Promise<() => Promise<void>> {
    const unsubscribe = await this.#exclusive(() => this.#db.listen(channel, () => onNotify()));
    return async () => {
      if (this.#ended !== undefined) return; // closing the database ends every LISTEN
      await this.#exclusive(() => unsubscribe());
    };
  }

  /** Closes the database once the current holder releases it. Idempotent. */
  end(): Promise<void> {
    return (this.#ended ??= (async () => {
      await this.#queue;
      try {
        await this.#db.close();
      } finally {
        await this.#onEnd();
      }
    })());
  }

  /**
   * Waits for `previous` (the callers ahead) for the timeout at most. A caller that gives
   * up keeps its place in the queue but passes its turn on at once (`release`), so the
   * callers behind it are not held up.
   */
  async #turn(previous: Promise<void>, release: () => void): Promise<void> {
    if (this.#timeoutMs === 0) return previous;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<true>((resolve) => (timer = setTimeout(() => resolve(true), this.#timeoutMs)));
    const late = await Promise.race([previous.then(() => false), timedOut]);
    clearTimeout(timer);
    if (!late) return;
    void previous.then(release);
    throw new Error(poolTimeoutMessage);
  }

  /** Runs `work` on the connection while no other caller holds it. */
  async #exclusive<T>(work: () => Promise<T>): Promise<T> {
    const client = await this.connect();
    try {
      return await work();
    } finally {
      client.release();
    }
  }
}

function commandOf(text: string): PostgresQueryResult<unknown>['command'] {
  const word = /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase();
  return word === 'INSERT' || word === 'UPDATE' || word === 'DELETE' || word === 'MERGE' ? word : 'SELECT';
}
