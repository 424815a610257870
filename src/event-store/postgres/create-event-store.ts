import { createHash } from 'node:crypto';
import type pg from 'pg';
import { z } from 'zod';
import { openConnection, type ConnectionConfig } from '../../database/connection.js';
import { identifierBytes, maxIdentifierBytes, schemaNameSchema } from '../../database/schema-name.js';
import { PostgresKeyStore, type KeyStore } from '../../privacy/key-store.js';
import { masterKeyVariable, parseMasterKey } from '../../privacy/master-key.js';
import type { StorePrivacy } from '../../privacy/store-privacy.js';
import { ValidationError } from '../../errors.js';
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
  /** Where personal fields' keys live and what wraps them (docs/privacy.md). */
  privacy?: PrivacyOptions;
}

export interface PrivacyOptions {
  /**
   * Wraps the data subjects' keys: 32 bytes, or their base64 or hex, or a function
   * returning them (called once, when first needed). Default: the ANNALS_MASTER_KEY
   * environment variable, read when personal data is first sealed or opened (a store
   * that never meets personal data needs none).
   */
  masterKey?: string | Buffer | (() => string | Buffer);
  /** The schema of the default key store's table (default `<schema>#keys`). */
  keySchema?: string;
  /** Keys kept elsewhere (a KMS, a vault): replaces the default Postgres key store. */
  keyStore?: KeyStore;
}

const optionsSchema = z.object({
  schema: schemaNameSchema.optional(),
  maxEventBytes: z.number().int().positive().optional(),
  maxEventsPerAppend: z.number().int().positive().max(maxEventsPerTransaction).optional(),
  privacy: z
    .object({
      masterKey: z
        .custom<string | Buffer | (() => string | Buffer)>((value) => typeof value === 'string' || Buffer.isBuffer(value) || typeof value === 'function', {
          error: 'must be a string, a Buffer or a function returning one',
        })
        .optional(),
      keySchema: schemaNameSchema.optional(),
      keyStore: z.custom<KeyStore>((value) => typeof value === 'object' && value !== null && typeof (value as KeyStore).keysFor === 'function', {
        error: 'must implement KeyStore (keysFor, keysById, forget, hasKey)',
      }).optional(),
    })
    .optional(),
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
  return new PostgresEventStore(
    opened,
    schema,
    {
      maxEventBytes: checked.maxEventBytes ?? defaultAppendLimits.maxEventBytes,
      maxEventsPerAppend: checked.maxEventsPerAppend ?? defaultAppendLimits.maxEventsPerAppend,
    },
    privacySetUp(schema, checked.privacy ?? {}),
  );
}

function privacySetUp(schema: string, options: PrivacyOptions): StorePrivacy {
  let master: Buffer | undefined;
  const masterKey = () =>
    (master ??=
      options.masterKey === undefined
        ? parseMasterKey(process.env[masterKeyVariable], masterKeyVariable)
        : parseMasterKey(typeof options.masterKey === 'function' ? options.masterKey() : options.masterKey, 'options.privacy.masterKey'));
  if (options.keyStore && options.keySchema !== undefined) {
    throw new ValidationError([{ field: 'options.privacy.keySchema', reason: 'places the default key store, and keyStore replaces it: give one or the other' }]);
  }
  if (options.keyStore) return { keyStore: options.keyStore, masterKey, recorded: new Set(), blindKeys: new Map(), setup: async () => {} };
  const keySchema = options.keySchema ?? defaultKeySchema(schema);
  const keyStore = new PostgresKeyStore(keySchema, masterKey);
  return { keyStore, masterKey, recorded: new Set(), blindKeys: new Map(), setup: (db) => keyStore.setup(db) };
}

/**
 * `<schema>#keys`; for a store schema too long for that within Postgres' 63 bytes, its
 * start and a hash of the whole name (`<start>#keys-<hash>`): still one per store, and a
 * store name can never be one (no store name has '#').
 */
export function defaultKeySchema(schema: string): string {
  const plain = `${schema}#keys`;
  if (identifierBytes(plain) <= maxIdentifierBytes) return plain;
  const suffix = `#keys-${createHash('sha256').update(schema).digest('hex').slice(0, 8)}`;
  let start = '';
  for (const char of schema) {
    if (identifierBytes(start + char) + suffix.length > maxIdentifierBytes) break;
    start += char;
  }
  return start + suffix;
}

function isPool(value: unknown): value is pg.Pool {
  return typeof value === 'object' && value !== null && typeof (value as pg.Pool).connect === 'function';
}
