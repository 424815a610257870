/**
 * The receiving side of the outbox: an inbox of processed message ids in the receiver's
 * own Postgres, so at-least-once delivery has exactly-once effects. The id is recorded in
 * the same transaction as the effect: both commit, or neither does (and the broker
 * delivers the message again). docs/inbox.md has the guarantees and the trade-offs.
 */
import type { Kysely, Transaction } from 'kysely';
import type pg from 'pg';
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { quoteIdent } from '../database/quote-ident.js';
import { identifierBytes, schemaNameSchema } from '../database/schema-name.js';
import { parseInput } from '../validation.js';
import { inboxStatements, type InboxStatements } from './inbox-sql.js';
import { inTransaction, runnerOf, type InboxDatabase, type InboxTransaction, type Runner } from './inbox-database.js';

export type { InboxDatabase, InboxTransaction } from './inbox-database.js';

/** What `receive` and `handleOnce` did: ran the effect, or found the id already processed. */
export type InboxOutcome = 'processed' | 'duplicate';

export interface InboxOptions {
  /** The receiver's schema (created if missing): the inbox needs no Annals store. */
  schema: string;
  /** Default `inbox`. One table can serve several subscriptions: message ids are unique across them. */
  table?: string;
}

export interface PruneOptions {
  /**
   * Forget ids processed before this: a Date, or an age in milliseconds measured on the
   * database's clock (so receivers with skewed clocks agree).
   */
  olderThan: Date | number;
  /** Rows deleted per statement (default 10,000), so a large prune never holds long locks. */
  batchSize?: number;
}

export interface Inbox {
  readonly schema: string;
  readonly table: string;
  /**
   * Creates the schema (if missing), the table and its index. Idempotent, and safe from
   * several processes at once (serialized by an advisory lock).
   */
  migrate(db: InboxDatabase): Promise<void>;
  /**
   * Opens a transaction on `db`, records `messageId` and runs `effect` in it, then commits.
   * A redelivered id (already committed) skips the effect: `'duplicate'`. Two deliveries
   * of one id at once: the second waits for the first's transaction, then sees a
   * duplicate (or, if the first rolled back, runs the effect itself). If `effect` throws,
   * nothing is recorded, the error is rethrown, and a redelivery runs the effect again.
   *
   * `db`: a `pg.Pool`, a `pg.Client` / `PoolClient` not in a transaction, or a Kysely
   * instance; `effect` gets the transaction in the same flavour (a client or a Kysely
   * `Transaction`).
   */
  receive(db: pg.Pool | pg.ClientBase, messageId: string, effect: (tx: pg.ClientBase) => Promise<unknown>): Promise<InboxOutcome>;
  receive<DB>(db: Kysely<DB>, messageId: string, effect: (tx: Transaction<DB>) => Promise<unknown>): Promise<InboxOutcome>;
  /**
   * `receive` inside a transaction you opened: records `messageId` in `tx` and runs
   * `effect` unless it was already processed. Your commit records both; your rollback
   * neither. `tx` must be in a transaction (a Kysely `Transaction` is checked; a pg client
   * cannot be: outside a transaction the id would commit on its own, before the effect).
   */
  handleOnce(tx: InboxTransaction, messageId: string, effect: () => Promise<unknown>): Promise<InboxOutcome>;
  /**
   * Deletes ids processed before `olderThan`; resolves to how many. An id pruned is
   * forgotten: if its message is delivered again after that, its effect runs again. Keep
   * ids longer than any redelivery can come (docs/inbox.md, "Pruning").
   */
  prune(db: InboxDatabase, options: PruneOptions): Promise<number>;
}

// The index is named `<table>_processed_at`: 13 bytes more, within Postgres' 63.
const maxTableBytes = 50;

const optionsSchema = z.object({
  schema: schemaNameSchema,
  table: z
    .string({ error: 'must be a string' })
    .min(1, { error: 'must not be empty' })
    .refine((name) => !name.includes('\0'), { error: 'must not contain a NUL character' })
    .refine((name) => identifierBytes(name) <= maxTableBytes, { error: `must be at most ${maxTableBytes} bytes of UTF-8` })
    .default('inbox'),
});

const pruneSchema = z.object({
  olderThan: z.union([z.date(), z.number().finite().min(0, { error: 'must be an age in milliseconds, at least 0' })], {
    error: 'must be a Date or an age in milliseconds',
  }),
  batchSize: z.number().int().min(1).max(1_000_000).default(10_000),
});

function checkMessageId(messageId: unknown): asserts messageId is string {
  if (typeof messageId !== 'string' || messageId.length === 0) {
    throw new ValidationError([{ field: 'messageId', reason: `must be a non-empty string, got ${JSON.stringify(messageId)}` }]);
  }
}

/**
 * An inbox in `schema`.`table` of the receiver's database.
 *
 * @example
 * ```ts
 * const inbox = createInbox({ schema: 'billing' });
 * await inbox.migrate(pool);
 * const envelope = parseEnvelope(msg.data);
 * const outcome = await inbox.receive(pool, envelope.id, async (tx) => {
 *   await tx.query('UPDATE totals SET likes = likes + 1 WHERE post_id = $1', [postId]);
 * });
 * msg.ack(); // only now: a crash before this line redelivers, and the inbox absorbs it
 * ```
 */
export function createInbox(options: InboxOptions): Inbox {
  const { schema, table } = parseInput(optionsSchema, options, 'options');
  const statements: InboxStatements = inboxStatements(quoteIdent(schema), quoteIdent(table), quoteIdent(`${table}_processed_at`));

  async function record(runner: Runner, messageId: string, effect: () => Promise<unknown>): Promise<InboxOutcome> {
    // The insert comes first: it takes the id's unique-index entry, so a concurrent delivery
    // of the same id waits here until this transaction ends instead of running its effect too.
    const inserted = await runner.query(statements.record, [messageId]);
    if (inserted.rowCount === 0) return 'duplicate';
    await effect();
    return 'processed';
  }

  async function handleOnce(tx: InboxTransaction, messageId: string, effect: () => Promise<unknown>): Promise<InboxOutcome> {
    checkMessageId(messageId);
    if ('isTransaction' in tx && !tx.isTransaction) {
      throw new ValidationError([{ field: 'tx', reason: 'must be a Kysely Transaction (use receive() to open one)' }]);
    }
    return record(runnerOf(tx), messageId, effect);
  }

  return {
    schema,
    table,
    async migrate(db) {
      await inTransaction(db, async (runner) => {
        // CREATE ... IF NOT EXISTS is not safe concurrently (two creators can both miss the
        // row and one fails on a catalog unique index): one migrator at a time.
        await runner.query(statements.lock, [`annals inbox ${schema}.${table}`]);
        // CREATE SCHEMA needs the CREATE privilege on the database even when the schema
        // exists: a receiver given only its schema must not need it.
        const existing = await runner.query(statements.schemaExists, [schema]);
        if (existing.rowCount === 0) await runner.query(statements.createSchema, []);
        await runner.query(statements.createTable, []);
        await runner.query(statements.createIndex, []);
      });
    },
    async receive(db: InboxDatabase, messageId: string, effect: (tx: never) => Promise<unknown>): Promise<InboxOutcome> {
      checkMessageId(messageId);
      return inTransaction(db, (runner, tx) => record(runner, messageId, () => effect(tx as never)));
    },
    handleOnce,
    async prune(db, pruneOptions) {
      const { olderThan, batchSize } = parseInput(pruneSchema, pruneOptions, 'options');
      const runner = runnerOf(db);
      const [text, cutoff] = olderThan instanceof Date ? [statements.pruneBefore, olderThan] : [statements.pruneOlderThanMs, olderThan];
      let total = 0;
      for (;;) {
        const { rowCount } = await runner.query(text, [cutoff, batchSize]);
        total += rowCount;
        if (rowCount < batchSize) return total;
      }
    },
  };
}
