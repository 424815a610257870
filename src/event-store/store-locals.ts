/**
 * The key under which a store keeps what other layers hold per store, keyed by the object
 * it belongs to: handleCommand keeps each aggregate's state cache there. The store owns
 * it (no global state): the same aggregate may run against several stores (schemas,
 * databases), each with its own, and a store closed and dropped takes it along. A symbol,
 * not a named member: it is for Annals' own layers, not part of the store's API.
 *
 * @internal
 */
export const storeLocals: unique symbol = Symbol('annals.storeLocals');

/** @internal */
export type StoreLocals = WeakMap<object, unknown>;
