import type { PrivacyContext } from './personal-data.js';
import type { KeyStoreDb } from './key-store.js';

/** @internal How the privacy functions (forget, verify, blind indexes) reach a store's set-up. */
export const storePrivacy = Symbol('annals.privacy');

export interface StorePrivacy extends PrivacyContext {
  /** The master key (read when first needed, so a store without personal data needs none). */
  readonly masterKey: () => Buffer;
  /** Makes the key store's tables, when it has any: run by migrate(). */
  readonly setup: (db: KeyStoreDb) => Promise<void>;
  /** Blind-index keys derived so far, by purpose (blind-index.ts). */
  readonly blindKeys: Map<string, Buffer>;
}

export function privacyOf(store: object): StorePrivacy {
  const privacy = (store as { [storePrivacy]?: StorePrivacy })[storePrivacy];
  if (!privacy) throw new TypeError('not an Annals event store (createEventStore)');
  return privacy;
}
