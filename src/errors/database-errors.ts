/** Errors of the store's database: connecting, migrations, a moved log, a closed store, locks, schemas, the pool. */
import { AnnalsError, ErrorCodes } from './annals-error.js';

/** A migration failed, or an applied migration's file changed since it was applied. */
export class MigrationError extends AnnalsError {
  readonly migration: string;

  constructor(migration: string, message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.migration, `migration ${migration}: ${message}`, options);
    this.migration = migration;
  }
}

/**
 * The log holds global positions this Postgres server's transaction ids have not reached:
 * the store was restored into another cluster (pg_dump / pg_restore, logical
 * replication) and `migrate()` has not been run there. Appends are refused rather than
 * written below the restored log, and reads rather than returning nothing. Run
 * `migrate()` (or `annals migrate`) once on the new server (docs/global-log.md,
 * "Moving the log to another server").
 */
export class LogAheadError extends AnnalsError {
  /** The highest global position in the log. */
  readonly logPosition: bigint;
  /** The lowest position this server would give a new event without migrate(). */
  readonly serverPosition: bigint;

  constructor(logPosition: bigint, serverPosition: bigint, options?: { cause?: unknown }) {
    super(
      ErrorCodes.logAhead,
      `the log holds global position ${logPosition} but this server's transaction ids only reach ${serverPosition}: ` +
        'the store was moved to another server; run migrate() (annals migrate) there once',
      options,
    );
    this.logPosition = logPosition;
    this.serverPosition = serverPosition;
  }
}

/** The store was used after `close()`. */
export class StoreClosedError extends AnnalsError {
  constructor() {
    super(ErrorCodes.storeClosed, 'the event store is closed');
  }
}

/** The process holding a PGlite data directory, as its lock file records it. */
export interface StoreLockHolder {
  readonly pid: number;
  readonly hostname: string;
  /** When the holding process started (ISO 8601). */
  readonly startedAt: string;
}

/**
 * An embedded PGlite data directory is open in another store already: in another process,
 * or in another store of this one. PGlite is a single connection with no locking of its
 * own, so two stores on one directory would both accept the same `expectedVersion` and
 * one's acknowledged events would be lost. Close the other store (or stop that process),
 * share one store, or give `lockTimeoutMs` to wait for it.
 *
 * @example
 * ```ts
 * if (error instanceof StoreLockedError) console.log(error.directory, error.holder.pid, error.holder.hostname);
 * ```
 */
export class StoreLockedError extends AnnalsError {
  readonly directory: string;
  readonly holder: StoreLockHolder;

  constructor(directory: string, holder: StoreLockHolder, where: { lockFile: string; sameProcess: boolean }) {
    const who = `process ${holder.pid} on ${holder.hostname} (started ${holder.startedAt})`;
    super(
      ErrorCodes.storeLocked,
      where.sameProcess
        ? `PGlite data directory ${directory} is already open in another store of this ${who}; close that store first, or share it`
        : `PGlite data directory ${directory} is in use by ${who}; close that store or stop that process first ` +
            `(if that process is gone and this message persists, delete ${where.lockFile})`,
    );
    this.directory = directory;
    this.holder = holder;
  }
}

/**
 * A projection would write into a Postgres schema or view that Annals did not create for
 * it: another store's read model, a user's own view in the projection's `readSchema`, or
 * a schema of the same name made by hand. Nothing was dropped or replaced. Give the
 * projection another `readSchema`, or rename or drop the other object yourself.
 *
 * @example
 * ```ts
 * if (error instanceof SchemaConflictError) console.log(error.schema, error.relation, error.owner);
 * ```
 */
export class SchemaConflictError extends AnnalsError {
  /** The schema in question. */
  readonly schema: string;
  /** The view or table in it, when the conflict is about one relation. */
  readonly relation: string | undefined;
  /** Who created it, as its Postgres comment records (undefined: not Annals). */
  readonly owner: string | undefined;

  constructor(message: string, where: { schema: string; relation?: string; owner?: string }) {
    super(ErrorCodes.schemaConflict, message);
    this.schema = where.schema;
    this.relation = where.relation;
    this.owner = where.owner;
  }
}

/**
 * No database connection came free within `connectionTimeoutMs` (default 30 s): every
 * connection of the pool (PGlite's one) was held the whole time. The usual cause is a
 * `withTransaction` callback that calls the store instead of its `tx`: it needs a second
 * connection while holding one, and enough such callbacks at once wait for each other
 * for ever. Use `tx` inside transactions, or raise `maxConnections` (or
 * `connectionTimeoutMs`, if the calls are only slow). Projection workers retry it.
 *
 * @example
 * ```ts
 * if (error instanceof ConnectionTimeoutError) console.log(error.timeoutMs, error.poolSize, error.backend);
 * ```
 */
export class ConnectionTimeoutError extends AnnalsError {
  readonly timeoutMs: number;
  /** Connections in the pool (1 for PGlite). */
  readonly poolSize: number;
  readonly backend: 'postgres' | 'pglite';

  constructor(message: string, where: { timeoutMs: number; poolSize: number; backend: 'postgres' | 'pglite' }, options?: { cause?: unknown }) {
    super(ErrorCodes.connectionTimeout, message, options);
    this.timeoutMs = where.timeoutMs;
    this.poolSize = where.poolSize;
    this.backend = where.backend;
  }
}

/** Where a store connects: never the password. */
export interface DatabaseTarget {
  /** A host name or address, or the directory of a Unix socket. */
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
}

/**
 * Why no connection could be made (DatabaseUnreachableError.reason): `refused` (nothing
 * listens there), `host-not-found` (the name does not resolve), `timeout` (no answer in
 * time), `database-missing`, `role-missing`, `authentication-failed` (a wrong or missing
 * password, or pg_hba.conf refuses this user from here), `other` (the server's own reason).
 */
export type UnreachableReason = 'refused' | 'host-not-found' | 'timeout' | 'database-missing' | 'role-missing' | 'authentication-failed' | 'other';

/**
 * A connection to Postgres could not be made: the message is one line naming where
 * (host, port, database, user; never the password) and why, and the driver's error is
 * the `cause`. Distinct from ConnectionTimeoutError, which is a healthy database whose
 * pool had no connection free. Projection and consumer workers retry the passing kinds
 * (refused, timeout) while they last.
 *
 * @example
 * ```ts
 * if (error instanceof DatabaseUnreachableError && error.reason === 'database-missing') console.error(`createdb ${error.database}`);
 * ```
 */
export class DatabaseUnreachableError extends AnnalsError {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly reason: UnreachableReason;

  constructor(target: DatabaseTarget, reason: UnreachableReason, detail: string, options?: { cause?: unknown }) {
    super(
      ErrorCodes.databaseUnreachable,
      `cannot connect to PostgreSQL at ${target.host}:${target.port} (database "${target.database}", user "${target.user}"): ${detail.replace(/\s+/g, ' ')}`,
      options,
    );
    this.host = target.host;
    this.port = target.port;
    this.database = target.database;
    this.user = target.user;
    this.reason = reason;
  }
}

/**
 * The store's schema has not been migrated (or not up to date): a table or function the
 * store uses, or the schema itself, does not exist. Nothing was written. Run
 * `store.migrate()` or `annals migrate` once for this schema (a deploy step, say).
 *
 * @example
 * ```ts
 * if (error instanceof SchemaNotMigratedError) await store.migrate();
 * ```
 */
export class SchemaNotMigratedError extends AnnalsError {
  readonly schema: string;
  /** What was missing in it (`streams`, `annals_log_bound`); undefined when the schema itself is. */
  readonly relation: string | undefined;

  constructor(schema: string, relation: string | undefined, options?: { cause?: unknown }) {
    const missing = relation === undefined ? 'the schema does not exist' : `it has no ${relation}`;
    super(
      ErrorCodes.notMigrated,
      `the event store's schema "${schema}" is not migrated (${missing}): run annals migrate, or store.migrate(), for this schema first`,
      options,
    );
    this.schema = schema;
    this.relation = relation;
  }
}
