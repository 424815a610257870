import { z } from 'zod';
import type { EventStore } from '../event-store/event-store.js';
import { parseInput } from '../validation.js';
import { derivedKey, hmacHex } from './cipher.js';
import { privacyOf } from './store-privacy.js';

const purposeSchema = z.string().min(1, { error: 'must not be empty' }).max(100, { error: 'must be at most 100 characters' });

/**
 * A blind index of a personal value: a keyed hash (HMAC-SHA256, with a key derived from
 * the master key for `purpose`) that a projection stores instead of the value, so it can
 * be looked up by the value (`WHERE email_index = blindIndex(store, 'email', input)`)
 * without holding it. Equal values give equal indexes for one purpose and master key;
 * without the master key the index cannot be computed or reversed. Normalize first
 * (trim, lower case) if lookups should ignore such differences. It is not erased by
 * `forget`: rebuild the read model to drop the rows of a forgotten subject.
 */
export function blindIndex(store: EventStore, purpose: string, value: string): string {
  const checked = parseInput(purposeSchema, purpose, 'purpose');
  const text = parseInput(z.string({ error: 'must be a string' }), value, 'value');
  const privacy = privacyOf(store);
  let key = privacy.blindKeys.get(checked);
  if (!key) {
    key = derivedKey(privacy.masterKey(), `blind-index:${checked}`);
    privacy.blindKeys.set(checked, key);
  }
  return hmacHex(key, text);
}
