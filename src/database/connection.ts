import { createHash } from 'node:crypto';
import { Kysely, PostgresDialect, type PostgresPool, type PostgresPoolClient } from 'kysely';
import pg from 'pg';
import { ConnectionTimeoutError, StoreClosedError, ValidationError } from '../errors.js';
import { connectFailure } from './connect-failure.js';
import type { EventStoreTables } from './tables.js';
import { openPGlitePool, poolTimeoutMessage, type PGlitePool } from './pglite-pool.js';
import { listenOn, trackListeners } from './listen.js';
import { poolQuery, withNamedStatements, withTranslatedErrors } from './pg-client-views.js';

/**
 * Where the store's database is. Exactly one of:
 * - `connectionString`: Annals opens (and on `close()` ends) its own `pg.Pool`;
 * - `pool`: a `pg.Pool` you own; Annals never ends it (give it `connectionTimeoutMillis`
 *   yourself: pg's default is to wait for a free connection for ever);
 * - `pglite`: an embedded PGlite data folder (`'memory://'` for an in-memory one). One
 *   store at a time may have a folder open (a lock file in it names the holder); another
 *   fails with StoreLockedError at its first operation, or first waits up to
 *   `lockTimeoutMs` (default 0) for the holder to close.
 *
 * `connectionTimeoutMs` (default 30,000; 0 waits for ever): how long a call waits for a
 * free connection of the pool (PGlite has one) or for a new one to be established. All
 * of them held (by `withTransaction` callbacks that use the store instead of their `tx`,
 * typically: each such call needs a second connection) is then an error naming the
 * setting, where it used to hang for ever.
 *
 * @example
 * ```ts
 * createEventStore({ connectionString: process.env.DATABASE_URL!, maxConnections: 20, connectionTimeoutMs: 5_000 });
 * ```
 */
export type ConnectionConfig =
  | { connectionString: string; pool?: never; pglite?: never; maxConnections?: number; connectionTimeoutMs?: number }
  | { pool: pg.Pool; connectionString?: never; pglite?: never }
  | { pglite: string; lockTimeoutMs?: number; connectionTimeoutMs?: number; connectionString?: never; pool?: never };

/** How long a call waits for a connection by default (`connectionTimeoutMs`). */
export const defaultConnectionTimeoutMs = 30_000;

export interface Connection {
  readonly kind: 'postgres' | 'pglite';
  readonly db: Kysely<EventStoreTables>;
  /**
   * Marks a statement text as a hot path: from then on it runs as a named prepared
   * statement on each connection, so Postgres plans it once per connection instead of on
   * every call (for the append statement, planning was most of its cost).
   */
  prepare(text: string): void;
  /**
   * Runs one statement on a pooled connection, outside any transaction, and returns its
   * rows: the path of hot reads whose SQL is already compiled (`readModel(...).prepare`),
   * without kysely's executor between them and the pool. On Postgres every statement it
   * runs is a named prepared statement, under a name of its own (not `prepare`'s: a
   * statement Postgres refuses after a read model's columns changed is handled here
   * only); errors are translated and the pool's wait bounded like every other statement.
   */
  query<Row>(text: string, parameters: readonly unknown[]): Promise<Row[]>;
  /**
   * LISTENs on `channel` on a connection of its own (outside the pool) and calls
   * `onNotify` for each notification. `onLost` is called once if that connection fails;
   * listen again to resume. Resolves to a function that stops listening.
   *
   * @throws StoreClosedError once `close()` was called, even while this was connecting.
   */
  listen(channel: string, onNotify: () => void, onLost: (error: unknown) => void): Promise<() => Promise<void>>;
  /** Ends the LISTEN connections, then the pool (unless the caller owns it). */
  close(): Promise<void>;
}

type Listen = Connection['listen'];

export interface ConnectionOptions {
  /**
   * Called with each error a query fails with; what it returns is thrown instead. The
   * store names its own missing tables with it (SchemaNotMigratedError): every query of
   * every layer (appends, reads, consumers in `withTransaction`) passes through here.
   */
  translateError?: (error: unknown) => unknown;
}

/**
 * Opens the connection described by `config`; the caller closes it. Nothing connects
 * until the first query, so this is synchronous. A connection to Postgres that cannot be
 * made fails the query that needed it with DatabaseUnreachableError.
 */
export function openConnection(config: ConnectionConfig, options: ConnectionOptions = {}): Connection {
  const { translateError } = options;
  if ('pglite' in config && typeof config.pglite === 'string') {
    const { pglite: dataDir, lockTimeoutMs } = config;
    if (lockTimeoutMs !== undefined && !(Number.isFinite(lockTimeoutMs) && lockTimeoutMs >= 0)) {
      throw new ValidationError([{ field: 'connection.lockTimeoutMs', reason: 'must be a number of milliseconds, 0 or more' }]);
    }
    const connectionTimeoutMs = checkedTimeout(config.connectionTimeoutMs);
    let opened: Promise<PGlitePool> | undefined;
    let closed = false;
    // A failed open (the directory held by another store, say) is not kept: the next
    // operation tries again, and finds the directory free once its holder has closed.
    const shared = () => {
      if (closed) return Promise.reject(new StoreClosedError());
      return (opened ??= openPGlitePool(dataDir, { lockTimeoutMs, connectionTimeoutMs }).catch((error: unknown) => {
        opened = undefined;
        throw error;
      }));
    };
    const connection = fromPool({
      kind: 'pglite',
      pool: shared,
      owned: true,
      // PGlite runs in process: there is no network round trip or plan cache to win.
      namedStatements: false,
      limits: { size: 1, timeoutMs: connectionTimeoutMs },
      translateError,
      listen: async (channel, onNotify) => (await shared()).listen(channel, onNotify),
    });
    return {
      ...connection,
      async close() {
        closed = true;
        await connection.close();
        // Kysely ends the pool only if a query opened it; a listen() alone may have.
        await (await opened?.catch(() => undefined))?.end();
      },
    };
  }
  if ('pool' in config && config.pool !== undefined) {
    const poolOptions = (config.pool as pg.Pool & { options?: pg.PoolConfig }).options ?? {};
    return fromPool({
      kind: 'postgres',
      pool: config.pool,
      owned: false,
      namedStatements: true,
      limits: { size: poolOptions.max ?? 10, timeoutMs: poolOptions.connectionTimeoutMillis ?? 0 },
      connectFailure: (error) => connectFailure(error, poolOptions, poolOptions.connectionTimeoutMillis ?? 0),
      translateError,
      listen: (channel, onNotify, onLost) => listenOn(poolOptions, channel, onNotify, onLost),
    });
  }
  if ('connectionString' in config && typeof config.connectionString === 'string') {
    const connectionTimeoutMs = checkedTimeout(config.connectionTimeoutMs);
    const max = config.maxConnections ?? 10;
    // 0 or less would leave every call waiting for a connection that can never open.
    if (!Number.isInteger(max) || max < 1) throw new ValidationError([{ field: 'connection.maxConnections', reason: 'must be a whole number >= 1' }]);
    // connectionTimeoutMillis bounds both the wait for a free pooled connection and the
    // connecting of a new one; pg's default (0) waits for ever.
    const pool = new pg.Pool({ connectionString: config.connectionString, max, connectionTimeoutMillis: connectionTimeoutMs });
    // A client whose server connection drops (a restart, pg_terminate_backend) emits
    // 'error', and an 'error' event without a listener crashes the process. The pool
    // reports it for idle clients; a checked-out client reports it itself. Either way
    // the query in flight fails with the error and the pool discards the client.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    const clientConfig = { connectionString: config.connectionString, connectionTimeoutMillis: connectionTimeoutMs };
    return fromPool({
      kind: 'postgres',
      pool,
      owned: true,
      namedStatements: true,
      limits: { size: max, timeoutMs: connectionTimeoutMs },
      connectFailure: (error) => connectFailure(error, clientConfig, connectionTimeoutMs),
      translateError,
      listen: (channel, onNotify, onLost) => listenOn(clientConfig, channel, onNotify, onLost),
    });
  }
  throw new ValidationError([{ field: 'connection', reason: 'give one of connectionString (a string), pool (a pg.Pool) or pglite (a directory or memory://)' }]);
}

function checkedTimeout(value: unknown): number {
  if (value === undefined) return defaultConnectionTimeoutMs;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  throw new ValidationError([
    { field: 'connection.connectionTimeoutMs', reason: 'must be a number of milliseconds, 0 or more (0 waits for ever)' },
  ]);
}

interface PoolSource {
  kind: Connection['kind'];
  pool: PostgresPool | (() => Promise<PostgresPool>);
  /** Whether close() ends the pool (not one the caller passed). */
  owned: boolean;
  namedStatements: boolean;
  /** The pool's size and its wait for a connection, for the error when that runs out. */
  limits: { size: number; timeoutMs: number };
  /** A server connection that could not be made, as the error to throw (Postgres only). */
  connectFailure?: (error: unknown) => Error;
  translateError?: ((error: unknown) => unknown) | undefined;
  listen: Listen;
}

function fromPool(source: PoolSource): Connection {
  const { kind, owned, namedStatements, limits, connectFailure, translateError } = source;
  const prepared = new Map<string, string>();
  // The names of Connection.query's statements, apart from `prepared`'s: the same text
  // sent through kysely (a read in a transaction) keeps its own, unnamed or `prepare`d.
  const reads = new Map<string, string>();
  const readNames = (text: string): string => {
    let name = reads.get(text);
    if (name === undefined) reads.set(text, (name = statementName('annals_read_', text)));
    return name;
  };
  // One view per pooled client, made once: kysely keeps its connection object per client
  // it is handed, so a new view on every checkout would make it a new one each time too.
  const views = new WeakMap<PostgresPoolClient, PostgresPoolClient>();
  const viewOf = (client: PostgresPoolClient): PostgresPoolClient => {
    let view = views.get(client);
    if (view === undefined) {
      view = namedStatements
        ? withNamedStatements(client as unknown as pg.PoolClient, prepared, translateError)
        : translateError
          ? withTranslatedErrors(client, translateError)
          : client;
      views.set(client, view);
    }
    return view;
  };
  const connectFailed = (error: unknown): unknown => poolTimeoutError(error, kind, limits) ?? connectFailure?.(error) ?? error;
  const wrap = (pool: PostgresPool): PostgresPool => ({
    connect: async () => {
      let client: PostgresPoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw connectFailed(error);
      }
      return viewOf(client);
    },
    // Kysely ends the pool it was given on destroy(); a pool the caller owns is shielded.
    end: owned ? () => pool.end() : async () => {},
  });
  const { pool } = source;
  const wrapped = typeof pool === 'function' ? undefined : wrap(pool);
  const dialectPool = wrapped ?? (async () => wrap(await (pool as () => Promise<PostgresPool>)()));
  const db = new Kysely<EventStoreTables>({ dialect: new PostgresDialect({ pool: dialectPool }) });
  const listeners = trackListeners(source.listen);
  return {
    kind,
    db,
    query:
      namedStatements && typeof pool !== 'function'
        ? poolQuery(pool as unknown as pg.Pool, readNames, connectFailed, translateError)
        : async <Row>(text: string, parameters: readonly unknown[]) => {
            const client = await (wrapped ?? (await (dialectPool as () => Promise<PostgresPool>)())).connect();
            try {
              return (await client.query<Row>(text, parameters)).rows;
            } finally {
              client.release();
            }
          },
    prepare(text) {
      if (!namedStatements || prepared.has(text)) return;
      prepared.set(text, statementName('annals_', text));
    },
    listen: listeners.listen,
    async close() {
      await listeners.close();
      await db.destroy();
    },
  };
}

/**
 * pg-pool's error when no connection came free within `connectionTimeoutMillis`, as the
 * typed error that says what to do (PGlitePool throws the same). pg-pool gives it no
 * code, only this message. A new connection that could not be established in time
 * ("Connection terminated due to connection timeout") is a database fault:
 * DatabaseUnreachableError (connect-failure.ts).
 */
function poolTimeoutError(error: unknown, kind: Connection['kind'], limits: { size: number; timeoutMs: number }): ConnectionTimeoutError | undefined {
  if (!(error instanceof Error) || error.message !== poolTimeoutMessage) return undefined;
  const held =
    kind === 'pglite' ? "PGlite's one connection was" : limits.size === 1 ? "the pool's one connection was" : `all ${limits.size} connections of the pool were`;
  return new ConnectionTimeoutError(
    `no connection came free within ${limits.timeoutMs} ms: ${held} held the whole time. ` +
      'A withTransaction callback that calls the store instead of its tx needs a second connection while it holds one, ' +
      'and enough of them at once wait for each other for ever: use tx inside transactions' +
      (kind === 'pglite' ? '' : ', or raise maxConnections') +
      ' (or connectionTimeoutMs, if the calls are only slow)',
    { timeoutMs: limits.timeoutMs, poolSize: kind === 'pglite' ? 1 : limits.size, backend: kind },
    { cause: error },
  );
}

/** A statement's name on a connection: `prefix` and a hash of its text (Postgres keeps 63 bytes of a name). */
function statementName(prefix: string, text: string): string {
  return `${prefix}${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
}
