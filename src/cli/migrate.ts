/**
 * `npm run migrate [-- --schema NAME]`: creates or upgrades the event store's tables in
 * DATABASE_URL (or the embedded database), then exits.
 */
import { parseArgs } from 'node:util';
import { createEventStore } from '../index.js';
import { connectionFromEnvironment } from './environment.js';

const { values } = parseArgs({ options: { schema: { type: 'string', default: process.env.ANNALS_SCHEMA ?? 'annals' } } });
const { config, description } = connectionFromEnvironment();
const store = createEventStore(config, { schema: values.schema });
try {
  const { applied } = await store.migrate();
  console.log(
    applied.length === 0
      ? `schema "${store.schema}" on ${description} is up to date`
      : `applied ${applied.join(', ')} to schema "${store.schema}" on ${description}`,
  );
} catch (error) {
  console.error(`migration failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await store.close();
}
