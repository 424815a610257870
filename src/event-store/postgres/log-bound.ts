import { createHash } from 'node:crypto';
import { sql, type RawBuilder } from 'kysely';
import { quoteIdent } from '../../database/quote-ident.js';
import { LogAheadError } from '../../errors.js';

/**
 * How appenders and readers of one store agree on what a reader may return
 * (docs/global-log.md, "Which transactions hold readers back").
 *
 * An appender holds the transaction-level advisory lock (appenderLockClass, key) shared
 * from before its transaction gets an id: `withTransaction` takes it as its first
 * statement, a plain append takes it inside its statement before anything writes. A
 * reader's bound (`annals_log_bound`, migrations/0006) is held back only by running
 * transactions that hold it, so a transaction that never appends to this store (another
 * database's, an idle `psql` session) never stalls the log.
 */

/** The first key of the appender lock: "ANNL", apart from other advisory locks (two-int form). */
export const appenderLockClass = 1_095_650_892;

const keys = new Map<string, number>();

/**
 * The appender lock's second key for a store schema: 31 bits of a hash of its name. Two
 * schemas that share a key only hold back each other's readers a little longer; a
 * reader never skips because of it.
 */
export function appenderKey(schema: string): number {
  let key = keys.get(schema);
  if (key === undefined) {
    key = createHash('sha1').update(schema).digest().readUInt32BE(0) & 0x7fff_ffff;
    keys.set(schema, key);
  }
  return key;
}

/** The statement `withTransaction` runs first: registers the transaction as an appender. */
export function registerAppenderText(schema: string): string {
  return `SELECT pg_advisory_xact_lock_shared(${appenderLockClass}, ${appenderKey(schema)})`;
}

/**
 * The first global position a reader must not return yet, as a scalar subquery: Postgres
 * evaluates it once per statement, with the statement's own snapshot, and uses it as an
 * index bound. Raises AN003 when the log is ahead of this server (a moved store).
 */
export function readBound(schema: string): RawBuilder<string> {
  return sql<string>`(${sql.raw(readBoundText(schema))})`;
}

/** The bound's SQL text, for statements written by hand. */
export function readBoundText(schema: string): string {
  const s = quoteIdent(schema);
  // Scalar subqueries, not a join with the one-row table: see append-statement.ts. Step b
  // of the bound (migration 0006) looks for a committed transaction's events in the view
  // over the hot table and the archive: an archive batch may have moved them since this
  // statement's snapshot, and the transaction must still hold the bound back.
  return `SELECT ${s}."annals_log_bound"(pg_current_snapshot(), ${appenderKey(schema)},
      (SELECT xid_offset FROM ${s}."global_log"), (SELECT max(global_position) FROM ${s}."events"),
      '${s.replaceAll("'", "''")}."events_all"'::regclass)`;
}

/** A LogAheadError for Postgres error AN003 (raised by annals_log_ahead), else undefined. */
export function logAheadError(error: unknown): LogAheadError | undefined {
  const { code, detail } = error as { code?: string; detail?: string };
  if (code !== 'AN003') return undefined;
  const [log = '0', server = '0'] = (detail ?? '').split(' ');
  return new LogAheadError(BigInt(log), BigInt(server), { cause: error });
}

/**
 * The oldest registered appender of the store that has a transaction id: readers are held
 * back below its position until it ends. Its own session is left out.
 */
export function logHoldbackText(): string {
  return `SELECT a.pid, coalesce(a.application_name, '') AS application_name, a.xact_start, coalesce(a.state, '') AS state,
      coalesce(a.query, '') AS query, (extract(epoch FROM clock_timestamp() - a.xact_start) * 1000)::float8 AS age_ms
    FROM pg_stat_activity a
   WHERE a.backend_xid IS NOT NULL AND a.pid <> pg_backend_pid()
     AND a.pid IN (SELECT l.pid FROM pg_locks l
                    WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted
                      AND l.classid = ${appenderLockClass}::oid AND l.objid = $1::integer::oid
                      AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database()))
   ORDER BY age(a.backend_xid) DESC
   LIMIT 1`;
}
