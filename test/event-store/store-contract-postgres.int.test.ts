import { beforeAll } from 'vitest';
import type { EventStore } from '../../src/index.js';
import { createTestStore } from '../setup/database.js';
import { describeEventStoreContract } from './store-contract.js';

let store: EventStore;
beforeAll(async () => {
  store = await createTestStore('contract');
});

describeEventStoreContract('postgres', () => store);
