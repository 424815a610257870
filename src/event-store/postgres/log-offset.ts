import { sql, type Transaction } from 'kysely';
import type { EventStoreTables } from '../../database/tables.js';
import { positionBits } from './append-statement.js';
import { appenderKey, appenderLockClass } from './log-bound.js';

/**
 * Keeps global positions monotone when the store moves to another Postgres cluster
 * (docs/global-log.md, "Moving the log to another server").
 *
 * A position is (transaction id + offset) << 20, and transaction ids belong to a cluster:
 * restored elsewhere with pg_dump / pg_restore, the log keeps positions far above the new
 * cluster's ids. Run inside migrate(), this raises the offset so that every transaction
 * from now on gets positions above the whole stored log. On the cluster the log was
 * written on (and after pg_upgrade, on a physical replica or after point-in-time
 * recovery, which keep the counter) the log is never ahead, and nothing changes.
 */
export async function raiseLogOffset(trx: Transaction<EventStoreTables>, schema: string): Promise<{ logOffset?: { previous: bigint; current: bigint } }> {
  const ahead = await readLog(trx, schema);
  if (ahead === null || ahead.high < ahead.horizon + ahead.offset) return {};
  // Moved. No appender may straddle the change: one that read the old offset and commits
  // after readers computed their bound with the new one would land below it. Waiting
  // for the appender lock exclusively lets running appenders finish and holds new ones
  // until this commits; the log is then read again, complete.
  await sql`SELECT pg_advisory_xact_lock(${sql.lit(appenderLockClass)}, ${sql.lit(appenderKey(schema))})`.execute(trx);
  const log = (await readLog(trx, schema))!;
  // Every transaction that appends after this one commits has a higher id than this one.
  const current = log.high + 1n - log.xid;
  if (current <= log.offset) return {};
  await sql`UPDATE ${sql.id(schema)}.global_log SET xid_offset = ${current.toString()}::bigint, raised_at = now()`.execute(trx);
  return { logOffset: { previous: log.offset, current } };
}

/**
 * The log's highest position base, this transaction's id, and the least id a committed
 * event can have on this server (the snapshot's xmax, or this transaction's own id + 1):
 * the log is ahead of the server when its highest base is at or above that plus the
 * offset. The same test guards every append and read (migrations/0006).
 */
async function readLog(trx: Transaction<EventStoreTables>, schema: string) {
  const s = sql.id(schema);
  const bits = sql.lit(positionBits);
  const { rows } = await sql<{ offset: string | bigint; high: string | bigint | null; xid: string | bigint; xmax: string | bigint }>`
    SELECT g.xid_offset AS offset, (SELECT max(global_position) >> ${bits} FROM ${s}.events) AS high,
           pg_current_xact_id()::text::bigint AS xid, pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax
      FROM ${s}.global_log g`.execute(trx);
  const row = rows[0];
  if (!row || row.high === null) return null;
  const xid = BigInt(row.xid);
  const xmax = BigInt(row.xmax);
  return { offset: BigInt(row.offset), high: BigInt(row.high), xid, horizon: xmax > xid + 1n ? xmax : xid + 1n };
}
