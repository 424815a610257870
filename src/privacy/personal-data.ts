import type { RecordedEvent } from '../event-store/records.js';
import { PrivacyKeyError } from '../errors.js';
import { open, seal } from './cipher.js';
import type { DataKey, KeyStore, KeyStoreDb } from './key-store.js';

/**
 * Personal fields at rest. An event whose data has personal fields is stored with those
 * fields taken out of `data` and sealed, per data subject, under `data.$personal`:
 *
 *     { "accountId": "a-1", "$personal": [{ "s": "a-1", "k": "<key id>", "f": ["owner"], "c": "<base64>" }] }
 *
 * `c` is AES-256-GCM of the JSON of those fields (`{"owner":"Ada"}`) under the subject's
 * key, bound to the event id and subject. Reads put the fields back; when the key is gone
 * (`forget`), they read as `null` and are listed in the event's `erased`.
 */
export const personalKey = '$personal';

/** Which top-level fields of an event's data belong to which data subject. */
export interface PersonalData {
  subject: string;
  fields: string[];
}

interface SealedEntry {
  s: string;
  k: string;
  f: string[];
  c: string;
}

/** What the store's reads and appends need of the privacy set-up. */
export interface PrivacyContext {
  readonly keyStore: KeyStore;
  /** Streams of which this process recorded the subject in `personal_streams` (bounded). */
  readonly recorded: Set<string>;
}

export interface SealInput {
  id: string;
  data: Record<string, unknown>;
  personal: readonly PersonalData[];
}

/** The stored form of each event's data (JSON text), with its personal fields sealed. */
export async function sealEvents(privacy: PrivacyContext, db: KeyStoreDb, events: readonly SealInput[]): Promise<string[]> {
  const keys = await privacy.keyStore.keysFor(
    events.flatMap((event) => event.personal.map((entry) => entry.subject)),
    db,
  );
  return events.map((event) => {
    const rest: Record<string, unknown> = { ...event.data };
    const sealed: SealedEntry[] = [];
    for (const { subject, fields } of event.personal) {
      const key = keys.get(subject);
      // A key store of one's own that answers without a subject's key must not make the
      // append write the fields in plaintext, nor crash on it.
      if (!key) throw new PrivacyKeyError('missing', `the key store gave no key for data subject '${subject}'`);
      const picked: Record<string, unknown> = {};
      for (const field of fields) {
        if (!(field in rest)) continue;
        picked[field] = rest[field];
        delete rest[field];
      }
      const plaintext = Buffer.from(JSON.stringify(picked), 'utf8');
      sealed.push({ s: subject, k: key.keyId, f: Object.keys(picked), c: seal(key.key, plaintext, associated(event.id, subject)).toString('base64') });
    }
    rest[personalKey] = sealed;
    return JSON.stringify(rest);
  });
}

const associated = (eventId: string, subject: string) => `${eventId}\u0000${subject}`;

function entriesOf(data: unknown): SealedEntry[] | undefined {
  if (typeof data !== 'object' || data === null || !(personalKey in data)) return undefined;
  return (data as Record<string, unknown>)[personalKey] as SealedEntry[];
}

/** Whether any of these events has sealed personal fields: reads without any skip the key store. */
export function hasSealed(events: readonly { data: unknown }[]): boolean {
  for (const event of events) if (entriesOf(event.data)) return true;
  return false;
}

/**
 * Events with their personal fields opened, or set to `null` and listed in `erased`
 * where the subject's key is gone. Events without personal fields are returned as they
 * are (the same objects).
 * @throws PrivacyKeyError when a ciphertext fails authentication with an existing key.
 */
export async function revealEvents<E extends RecordedEvent>(privacy: PrivacyContext | undefined, db: KeyStoreDb, events: E[]): Promise<E[]> {
  if (!hasSealed(events)) return events;
  if (!privacy) throw new PrivacyKeyError('missing', 'events with personal fields were read by a store without a key store');
  const ids = events.flatMap((event) => entriesOf(event.data)?.map((entry) => entry.k) ?? []);
  return revealAll(events, await privacy.keyStore.keysById(ids, db));
}

/**
 * revealEvents with the keys already at hand, by key id: those that still existed when
 * the events were read (a statement that read the events and their keys together).
 */
export function revealWith<E extends RecordedEvent>(events: E[], keys: ReadonlyMap<string, DataKey>): E[] {
  return hasSealed(events) ? revealAll(events, keys) : events;
}

function revealAll<E extends RecordedEvent>(events: E[], keys: ReadonlyMap<string, DataKey>): E[] {
  return events.map((event) => (entriesOf(event.data) ? revealOne(event, keys) : event));
}

function revealOne<E extends RecordedEvent>(event: E, keys: ReadonlyMap<string, DataKey>): E {
  const { [personalKey]: entries, ...data } = event.data as Record<string, unknown> & { [personalKey]: SealedEntry[] };
  const erased: string[] = [];
  for (const entry of entries) {
    const key = keys.get(entry.k);
    if (!key) {
      for (const field of entry.f) data[field] = null;
      erased.push(...entry.f);
      continue;
    }
    const plaintext = open(key.key, Buffer.from(entry.c, 'base64'), associated(event.id, entry.s));
    if (!plaintext) {
      throw new PrivacyKeyError('corrupt', `the personal fields of event ${event.id} (stream '${event.streamId}') fail their integrity check: they were altered or moved`);
    }
    Object.assign(data, JSON.parse(plaintext.toString('utf8')));
  }
  return erased.length > 0 ? { ...event, data, erased } : { ...event, data };
}

/** The subjects an event's stored data holds personal fields of. */
export function subjectsOf(data: unknown): string[] {
  return entriesOf(data)?.map((entry) => entry.s) ?? [];
}
