/**
 * The databases the inbox runs on: a `pg` pool or client, or a Kysely instance, as the
 * receiver already has one. Everything else in the inbox sees only a `Runner`.
 */
import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
import type pg from 'pg';
import { ValidationError } from '../errors.js';

/**
 * Where the inbox opens its transactions: a `pg.Pool`, a `pg.Client` / `PoolClient` that is
 * not in a transaction, or a Kysely instance (not a `Transaction`).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the receiver's own tables, unknown to Annals
export type InboxDatabase = pg.Pool | pg.ClientBase | Kysely<any>;

/** A transaction the caller opened: a pg client after BEGIN, or a Kysely `Transaction`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
export type InboxTransaction = pg.ClientBase | Transaction<any>;

export interface Runner {
  query(text: string, params: unknown[]): Promise<{ rowCount: number }>;
}

function isKysely(db: InboxDatabase): db is Kysely<unknown> {
  return 'isTransaction' in db && typeof (db as Kysely<unknown>).executeQuery === 'function';
}

// Duck-typed rather than instanceof: the receiver's pg may be another copy than Annals' own.
function isPool(db: InboxDatabase): db is pg.Pool {
  return 'totalCount' in db && typeof (db as pg.Pool).connect === 'function';
}

export function runnerOf(db: InboxDatabase): Runner {
  if (isKysely(db)) {
    return {
      async query(text, params) {
        const result = await db.executeQuery(CompiledQuery.raw(text, params));
        return { rowCount: Number(result.numAffectedRows ?? BigInt(result.rows.length)) };
      },
    };
  }
  return {
    async query(text, params) {
      const result = await db.query(text, params);
      return { rowCount: result.rowCount ?? 0 };
    },
  };
}

/**
 * Runs `work` in a new transaction on `db` and commits, or rolls back and rethrows. `tx` is
 * what the receiver's effect gets: the pg client, or the Kysely `Transaction`.
 */
export async function inTransaction<T>(db: InboxDatabase, work: (runner: Runner, tx: InboxTransaction) => Promise<T>): Promise<T> {
  if (isKysely(db)) {
    if (db.isTransaction) {
      throw new ValidationError([{ field: 'db', reason: 'is already a Transaction: call handleOnce(tx, ...) inside it instead' }]);
    }
    return db.transaction().execute((tx) => work(runnerOf(tx), tx));
  }
  const client = isPool(db) ? await db.connect() : db;
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    try {
      const result = await work(runnerOf(client), client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      // A failed ROLLBACK means the connection is gone: a pooled one is then discarded.
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      throw error;
    }
  } finally {
    if (client !== db) (client as pg.PoolClient).release(broken);
  }
}
