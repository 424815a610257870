import { randomUUID } from 'node:crypto';
import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
import { PrivacyKeyError } from '../errors.js';
import { quoteIdent } from '../database/quote-ident.js';
import { fingerprintOf, newDataKey, open, seal } from './cipher.js';

/** One data subject's key: what their personal fields are encrypted with. */
export interface DataKey {
  keyId: string;
  subject: string;
  key: Buffer;
}

/**
 * Where the data subjects' keys live. Annals' own keeps them in Postgres (PostgresKeyStore);
 * one backed by a KMS or a vault implements the same four calls. `db` is the connection
 * or transaction of the read or append asking, so a key made for an append commits or
 * rolls back with it; a key store elsewhere ignores it.
 */
export interface KeyStore {
  /** Each subject's current key, made for those who have none. */
  keysFor(subjects: readonly string[], db: KeyStoreDb): Promise<Map<string, DataKey>>;
  /** The keys with these ids that still exist; a forgotten key's id is absent. */
  keysById(keyIds: readonly string[], db: KeyStoreDb): Promise<Map<string, DataKey>>;
  /** Deletes every key of the subject; returns how many there were. */
  forget(subject: string, db: KeyStoreDb): Promise<number>;
  /** Whether the subject has a key now. */
  hasKey(subject: string, db: KeyStoreDb): Promise<boolean>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KeyStoreDb = Kysely<any> | Transaction<any>;

/** A row of `data_keys`. */
export interface KeyRow {
  key_id: string;
  subject: string;
  wrapped: Buffer | Uint8Array;
  master_key: string;
}

/**
 * Data keys in a Postgres table of their own schema (`<store>#keys` by default), each
 * wrapped (AES-256-GCM) by the master key, which never reaches the database: a dump of
 * the events, or of the whole database, reveals no personal field without it. Each row
 * records the master key's fingerprint, so a store opened with another master key fails
 * with PrivacyKeyError instead of reading every personal field as erased.
 *
 * Keys are not cached: a key forgotten by one process must stop opening fields in every
 * other at once. A read that meets personal fields costs one indexed query per batch.
 */
export class PostgresKeyStore implements KeyStore {
  readonly schema: string;
  readonly #masterKey: () => Buffer;
  #fingerprint: string | undefined;
  #masterKeyChecked = false;

  constructor(schema: string, masterKey: () => Buffer) {
    this.schema = schema;
    this.#masterKey = masterKey;
  }

  /** Creates the schema and table (idempotent): run by the store's migrate(). */
  async setup(db: KeyStoreDb): Promise<void> {
    const s = quoteIdent(this.schema);
    await db.executeQuery(CompiledQuery.raw(`CREATE SCHEMA IF NOT EXISTS ${s}`));
    await db.executeQuery(
      CompiledQuery.raw(`CREATE TABLE IF NOT EXISTS ${s}."data_keys" (
        key_id     uuid        PRIMARY KEY,
        subject    text        NOT NULL UNIQUE,
        wrapped    bytea       NOT NULL,
        master_key text        NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`),
    );
  }

  async keysFor(subjects: readonly string[], db: KeyStoreDb): Promise<Map<string, DataKey>> {
    const wanted = [...new Set(subjects)];
    const found = await this.#select(db, 'subject', wanted, 'text');
    // In one order for every append: two appends making keys for {a, b} and {b, a} would
    // otherwise wait on each other's unique index entries (a deadlock).
    const missing = wanted.filter((subject) => !found.has(subject)).sort();
    if (missing.length > 0) {
      const master = this.#master();
      const fingerprint = this.#fingerprintOf(master);
      await this.#checkMasterKey(db, fingerprint);
      const ids = missing.map(() => randomUUID());
      const wrapped = missing.map((subject, index) => seal(master, newDataKey(), `${ids[index]}\u0000${subject}`));
      // A concurrent append may make the subject's key first: its key wins, ours is dropped.
      await db.executeQuery(
        CompiledQuery.raw(
          `INSERT INTO ${quoteIdent(this.schema)}."data_keys" (key_id, subject, wrapped, master_key)
           SELECT k, s, w, $4 FROM unnest($1::uuid[], $2::text[], $3::bytea[]) AS t(k, s, w)
           ON CONFLICT (subject) DO NOTHING`,
          [ids, missing, wrapped, fingerprint],
        ),
      );
      for (const [subject, key] of await this.#select(db, 'subject', missing, 'text')) found.set(subject, key);
    }
    return found;
  }

  async keysById(keyIds: readonly string[], db: KeyStoreDb): Promise<Map<string, DataKey>> {
    if (keyIds.length === 0) return new Map();
    const bySubject = await this.#select(db, 'key_id', [...new Set(keyIds)], 'uuid');
    return new Map([...bySubject.values()].map((key) => [key.keyId, key]));
  }

  async forget(subject: string, db: KeyStoreDb): Promise<number> {
    const { numAffectedRows } = await db.executeQuery(
      CompiledQuery.raw(`DELETE FROM ${quoteIdent(this.schema)}."data_keys" WHERE subject = $1`, [subject]),
    );
    return Number(numAffectedRows ?? 0n);
  }

  async hasKey(subject: string, db: KeyStoreDb): Promise<boolean> {
    const { rows } = await db.executeQuery(
      CompiledQuery.raw(`SELECT 1 FROM ${quoteIdent(this.schema)}."data_keys" WHERE subject = $1`, [subject]),
    );
    return rows.length > 0;
  }

  async #select(db: KeyStoreDb, column: 'subject' | 'key_id', values: string[], type: 'text' | 'uuid'): Promise<Map<string, DataKey>> {
    const { rows } = await db.executeQuery(
      CompiledQuery.raw(
        `SELECT key_id, subject, wrapped, master_key FROM ${quoteIdent(this.schema)}."data_keys" WHERE ${column} = ANY($1::${type}[])`,
        [values],
      ),
    );
    const keys = new Map<string, DataKey>();
    for (const key of this.unwrap(rows as KeyRow[])) keys.set(key.subject, key);
    return keys;
  }

  /**
   * Data keys from rows of `data_keys` a statement of the store read itself (a stream
   * read takes the keys its events name in the same statement: personalKeys in
   * event-store/postgres/read-statements.ts), checked and unwrapped as every key read here is.
   *
   * @internal
   * @throws PrivacyKeyError ('mismatch') for a key wrapped by another master key, ('corrupt') for an altered one.
   */
  unwrap(rows: readonly KeyRow[]): DataKey[] {
    if (rows.length === 0) return [];
    const master = this.#master();
    const fingerprint = this.#fingerprintOf(master);
    return rows.map((row) => {
      if (row.master_key !== fingerprint) throw mismatch(this.schema, row.master_key, fingerprint);
      const key = open(master, Buffer.from(row.wrapped), `${row.key_id}\u0000${row.subject}`);
      if (!key) throw new PrivacyKeyError('corrupt', `the data key ${row.key_id} in ${this.schema} fails its integrity check: it was altered`);
      return { keyId: row.key_id, subject: row.subject, key };
    });
  }

  /**
   * Before this process wraps its first new key: the keys already there must have been
   * wrapped by the same master key. Reads check each key they meet; without this, a
   * process started with another master key (a development key against a production
   * database) would add keys that every correctly configured process then refuses.
   */
  async #checkMasterKey(db: KeyStoreDb, fingerprint: string): Promise<void> {
    if (this.#masterKeyChecked) return;
    const { rows } = await db.executeQuery(CompiledQuery.raw(`SELECT master_key FROM ${quoteIdent(this.schema)}."data_keys" LIMIT 1`));
    const existing = (rows[0] as { master_key?: string } | undefined)?.master_key;
    if (existing !== undefined && existing !== fingerprint) throw mismatch(this.schema, existing, fingerprint);
    this.#masterKeyChecked = existing !== undefined;
  }

  #master(): Buffer {
    return this.#masterKey();
  }

  #fingerprintOf(master: Buffer): string {
    this.#fingerprint ??= fingerprintOf(master);
    return this.#fingerprint;
  }
}

function mismatch(schema: string, stored: string, given: string): PrivacyKeyError {
  return new PrivacyKeyError(
    'mismatch',
    `the data keys in ${schema} were wrapped by master key ${stored}, and this store was given ${given}: start it with the master key the keys were made with`,
  );
}
