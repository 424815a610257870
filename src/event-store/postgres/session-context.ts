import { sql, type Kysely, type Transaction } from 'kysely';
import type { EventStoreTables } from '../../database/tables.js';
import type { AppendLimits } from '../validation.js';
import type { PrivacyContext } from '../../privacy/personal-data.js';

/** The pool (each statement its own transaction) or a transaction opened by `withTransaction`. */
export type Executor = Kysely<EventStoreTables> | Transaction<EventStoreTables>;

/**
 * What the store's reads and writes run with, whichever concern they belong to (appends,
 * reads, snapshots, checkpoints): one object, so each concern's functions take it first
 * and their own arguments after, as the session's methods did.
 */
export interface SessionContext {
  readonly executor: Executor;
  readonly schema: string;
  readonly limits: AppendLimits;
  /** The key store personal fields are sealed with and opened by. */
  readonly privacy: PrivacyContext;
  /** Inside `withTransaction`: a failed statement aborts the caller's whole transaction. */
  readonly inTransaction: boolean;
  /** Throws StoreClosedError once the store is closed. */
  readonly assertOpen: () => void;
  /** Registers a hot-path statement's text to run prepared (see Connection.prepare). */
  readonly prepare: (text: string) => void;
  /** Called after each append that wrote or found events (see AppendNotifier). */
  readonly onAppended: () => void;
}

/**
 * `ANY($n::type[])`: a list as one array parameter, so the statement's text is the same
 * whatever the list's length (read-options.ts says why that matters). Postgres plans it
 * as it plans `IN (…)`, with the same indexes.
 */
export function anyOf(values: readonly string[], type: 'text' | 'uuid' | 'bigint') {
  return sql<string>`ANY(${[...values]}::${sql.raw(type)}[])`;
}
