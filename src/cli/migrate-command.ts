import type { EventStore } from '../index.js';

/**
 * Creates or upgrades the event store's tables (`annals migrate`, `npm run migrate`) and
 * says what it did.
 */
export async function migrateCommand(store: EventStore, description: string): Promise<string> {
  const { applied } = await store.migrate();
  return applied.length === 0
    ? `schema "${store.schema}" on ${description} is up to date`
    : `applied ${applied.join(', ')} to schema "${store.schema}" on ${description}`;
}
