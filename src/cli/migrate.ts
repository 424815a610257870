/**
 * `npm run migrate [-- --schema NAME]`: creates or upgrades the event store's tables in
 * DATABASE_URL (or the embedded database), then exits. `annals migrate` does the same.
 */
import { parseArgs } from 'node:util';
import { migrateCommand } from './migrate-command.js';
import { openStore, schemaFor } from './store.js';

const { values } = parseArgs({ options: { schema: { type: 'string' } } });
const { store, description } = openStore(schemaFor({ flag: values.schema }));
try {
  console.log(await migrateCommand(store, description));
} catch (error) {
  console.error(`migration failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await store.close();
}
