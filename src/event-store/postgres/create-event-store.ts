import type pg from 'pg';
import { z } from 'zod';
import { openConnection, type ConnectionConfig } from '../../database/connection.js';
import { schemaNameSchema } from '../../database/schema-name.js';
import type { EventStore } from '../event-store.js';
import { defaultAppendLimits } from '../validation.js';
import { parseInput } from '../../validation.js';
import { maxEventsPerTransaction } from './append-statement.js';
import { notMigratedError } from './not-migrated.js';
import { PostgresEventStore } from './postgres-event-store.js';

export interface EventStoreOptions {
  /** Postgres schema for the store's tables (default `annals`). */
  schema?: string;
  /** Largest serialized data + metadata of one event (default 1 MiB). */
  maxEventBytes?: number;
  /** Most events in one append call (default 10,000). */
  maxEventsPerAppend?: number;
}

const optionsSchema = z.object({
  schema: schemaNameSchema.optional(),
  maxEventBytes: z.number().int().positive().optional(),
  maxEventsPerAppend: z.number().int().positive().max(maxEventsPerTransaction).optional(),
});

/**
 * Creates an event store on Postgres (a connection string or your `pg.Pool`) or on an
 * embedded PGlite. Call `migrate()` once before use and `close()` when done: used before
 * its schema is migrated, the store throws SchemaNotMigratedError; a database it cannot
 * connect to, DatabaseUnreachableError (nothing connects before the first call).
 *
 * @example
 * ```ts
 * const store = createEventStore({ connectionString: process.env.DATABASE_URL! }, { schema: 'annals' });
 * await store.migrate();
 * await store.appendToStream('post-42', [{ type: 'LikeCreated', data: { postId: '42', userId: 'ada' } }]);
 * await store.close();
 * ```
 */
export function createEventStore(connection: ConnectionConfig | pg.Pool, options: EventStoreOptions = {}): EventStore {
  const checked = parseInput(optionsSchema, options, 'options');
  const config: ConnectionConfig = isPool(connection) ? { pool: connection } : connection;
  const schema = checked.schema ?? 'annals';
  const opened = openConnection(config, { translateError: (error) => notMigratedError(error, schema) });
  return new PostgresEventStore(opened, schema, {
    maxEventBytes: checked.maxEventBytes ?? defaultAppendLimits.maxEventBytes,
    maxEventsPerAppend: checked.maxEventsPerAppend ?? defaultAppendLimits.maxEventsPerAppend,
  });
}

function isPool(value: unknown): value is pg.Pool {
  return typeof value === 'object' && value !== null && typeof (value as pg.Pool).connect === 'function';
}
