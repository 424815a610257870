import { afterAll, beforeAll } from 'vitest';
import { createEventStore, type EventStore } from '../../src/index.js';
import { describeEventStoreContract } from './store-contract.js';

// The embedded default: same store code, same contract, on an in-memory PGlite.
let store: EventStore;
beforeAll(async () => {
  store = createEventStore({ pglite: 'memory://' }, { schema: 'annals' });
  await store.migrate();
});
afterAll(() => store.close());

describeEventStoreContract('pglite', () => store);
