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

/**
 * The key of the store's method that runs one compiled statement on its pool, outside any
 * transaction, and returns the rows (Connection.query): the path of `readModel(...).prepare`,
 * whose reads run on every request and gain from skipping kysely's executor. Internal,
 * like `storeLocals`: the public way is `store.read`.
 *
 * @internal
 */
export const storeQuery: unique symbol = Symbol('annals.storeQuery');

/** @internal */
export type StoreQuery = <Row>(text: string, parameters: readonly unknown[]) => Promise<Row[]>;
