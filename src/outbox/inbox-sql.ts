/**
 * The inbox's statements, in one place. Plain SQL text rather than kysely's builder: the
 * same text runs on a `pg` client and on a Kysely instance (the receiver's choice), and
 * the table is not one of Annals' typed tables.
 */
export interface InboxStatements {
  /** $1: the message id. Affects 0 rows when the id is already recorded. */
  readonly record: string;
  /** $1: the lock's name. Held until the migration's transaction ends. */
  readonly lock: string;
  /** $1: the schema's name. */
  readonly schemaExists: string;
  readonly createSchema: string;
  readonly createTable: string;
  readonly createIndex: string;
  /** $1: a timestamp; $2: the batch size. */
  readonly pruneBefore: string;
  /** $1: an age in milliseconds, on the database's clock; $2: the batch size. */
  readonly pruneOlderThanMs: string;
}

/** The statements for the quoted identifiers given (see quoteIdent). */
export function inboxStatements(schema: string, table: string, index: string): InboxStatements {
  const qualified = `${schema}.${table}`;
  // DELETE has no LIMIT: the batch is chosen by a subquery on the primary key.
  const pruneWhere = (condition: string) =>
    `DELETE FROM ${qualified} WHERE message_id IN (SELECT message_id FROM ${qualified} WHERE ${condition} LIMIT $2)`;
  return {
    record: `INSERT INTO ${qualified} (message_id) VALUES ($1) ON CONFLICT (message_id) DO NOTHING`,
    // Advisory locks take a bigint: the name hashed, so each schema.table has its own.
    lock: `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`,
    schemaExists: `SELECT 1 FROM pg_namespace WHERE nspname = $1`,
    createSchema: `CREATE SCHEMA IF NOT EXISTS ${schema}`,
    createTable: `CREATE TABLE IF NOT EXISTS ${qualified} (message_id text PRIMARY KEY, processed_at timestamptz NOT NULL DEFAULT now())`,
    createIndex: `CREATE INDEX IF NOT EXISTS ${index} ON ${qualified} (processed_at)`,
    pruneBefore: pruneWhere('processed_at < $1'),
    pruneOlderThanMs: pruneWhere('processed_at < now() - make_interval(secs => $1::double precision / 1000)'),
  };
}
