import { createTestStore } from '../setup/database.js';
import { describeEventStoreContract } from './store-contract.js';

// At the top level: the helper registers the file's clean-up hooks.
const store = await createTestStore('contract');
describeEventStoreContract('postgres', () => store);
