import { CompiledQuery } from 'kysely';
import { quoteIdent } from '../../database/quote-ident.js';
import { PostgresKeyStore, type DataKey } from '../../privacy/key-store.js';
import { revealEvents, revealWith, sealEvents, type PrivacyContext } from '../../privacy/personal-data.js';
import type { RecordedEvent } from '../records.js';
import type { PreparedAppend } from '../validation.js';
import type { SessionContext } from './session-context.js';

/** How many (subject, stream) pairs a process remembers having recorded. */
const maxRemembered = 10_000;

/**
 * Seals the personal fields of an append's events (privacy/personal-data.ts) and records
 * which streams hold each subject's fields (`personal_streams`), so that `forget` finds
 * the snapshots to drop and verification the streams to check. Runs before the append
 * statement, on the same connection or transaction: outside a transaction, a key or pair
 * recorded for an append that then fails is harmless.
 */
export async function sealAppend(session: SessionContext, append: PreparedAppend): Promise<void> {
  const personal = append.events.filter((event) => event.personal);
  if (personal.length === 0) return;
  const sealed = await sealEvents(
    session.privacy,
    session.executor,
    personal.map((event) => ({ id: event.id, data: event.data!, personal: event.personal! })),
  );
  personal.forEach((event, index) => (event.dataJson = sealed[index]!));
  const subjects = [...new Set(personal.flatMap((event) => event.personal!.map((entry) => entry.subject)))];
  const fresh = subjects.filter((subject) => !session.privacy.recorded.has(`${subject}\u0000${append.streamId}`));
  if (fresh.length === 0) return;
  await session.executor.executeQuery(
    CompiledQuery.raw(
      `INSERT INTO ${quoteIdent(session.schema)}."personal_streams" (subject, stream_id)
       SELECT unnest($1::text[]), $2::text ON CONFLICT DO NOTHING`,
      [fresh, append.streamId],
    ),
  );
  // Inside a transaction the rows count only once it commits: remember them only outside one.
  if (session.inTransaction) return;
  if (session.privacy.recorded.size > maxRemembered) session.privacy.recorded.clear();
  for (const subject of fresh) session.privacy.recorded.add(`${subject}\u0000${append.streamId}`);
}

/** Events as read, with personal fields opened or erased: every read of the store ends here. */
export function revealed<E extends RecordedEvent>(session: SessionContext, events: E[]): Promise<E[]> {
  return revealEvents(session.privacy, session.executor, events);
}

/**
 * The schema of the store's keys when a statement can read them itself: the store's own
 * key store's (PostgresKeyStore), not one of the user's (a KMS, a vault).
 */
export function keySchemaOf(session: SessionContext): string | undefined {
  const { privacy } = session;
  if (keysAlongRefused.has(privacy)) return undefined;
  return privacy.keyStore instanceof PostgresKeyStore ? privacy.keyStore.schema : undefined;
}

/** Stores whose stream reads found the key table unreadable: they read without it. */
const keysAlongRefused = new WeakSet<PrivacyContext>();

/**
 * Whether a stream read that read its keys along failed for the key table alone: it is
 * missing (migrated under another `privacy.keySchema`), or the role has no privilege on
 * it (one that reads no personal data may have none). The store's stream reads then go
 * without it from now on, as before, and the caller runs this one again. Not inside a
 * transaction: the failure has aborted it.
 */
function keysAlongFailed(session: SessionContext, keySchema: string, error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (session.inTransaction || typeof message !== 'string' || !(code === '42501' || code === '42P01' || code === '3F000')) return false;
  // Identifiers are not translated in Postgres' messages, whatever lc_messages says.
  if (!message.includes('data_keys') && !message.includes(keySchema)) return false;
  keysAlongRefused.add(session.privacy);
  return true;
}

/** A key as a statement reads it along with the events that name it (`wrapped` in hex). */
export interface KeyColumn {
  key_id: string;
  subject: string;
  wrapped: string;
  master_key: string;
}

/**
 * A stream read's events with personal fields opened or erased: by the keys its statement
 * read along (`keySchema`, personal_keys), the keys that existed in that statement's
 * snapshot, as a separate lookup would have found them just after, one round trip fewer;
 * without a key schema, by asking the key store (revealed).
 */
export async function revealedStreamRows<E extends RecordedEvent>(
  session: SessionContext,
  keySchema: string | undefined,
  events: E[],
  rows: readonly { personal_keys?: readonly KeyColumn[] | null | undefined }[],
): Promise<E[]> {
  if (keySchema === undefined) return revealed(session, events);
  const byId = new Map<string, KeyColumn>();
  for (const row of rows) for (const key of row.personal_keys ?? []) byId.set(key.key_id, key);
  if (byId.size === 0) return revealWith(events, noKeys);
  const keyStore = session.privacy.keyStore as PostgresKeyStore;
  const keys = keyStore.unwrap([...byId.values()].map((key) => ({ ...key, wrapped: Buffer.from(key.wrapped, 'hex') })));
  return revealWith(events, new Map(keys.map((key) => [key.keyId, key])));
}

const noKeys: ReadonlyMap<string, DataKey> = new Map();

/**
 * The rows of a stream read's statement, or undefined when it read its keys along
 * (`keySchema`) and failed for the key table alone (keysAlongFailed): run it again, it
 * goes without them now.
 */
export function rowsUnlessKeysRefused<Row>(session: SessionContext, keySchema: string | undefined, result: Promise<{ rows: Row[] }>): Promise<Row[] | undefined> {
  return result.then(
    (done) => done.rows,
    (error: unknown) => {
      if (keySchema !== undefined && keysAlongFailed(session, keySchema, error)) return undefined;
      throw error;
    },
  );
}
