import type { EventStore } from '../index.js';

/**
 * Creates or upgrades the event store's tables (`annals migrate`, `npm run migrate`) and
 * says what it did.
 */
export async function migrateCommand(store: EventStore, description: string): Promise<string> {
  const { applied, logOffset } = await store.migrate();
  const done =
    applied.length === 0
      ? `schema "${store.schema}" on ${description} is up to date`
      : `applied ${applied.join(', ')} to schema "${store.schema}" on ${description}`;
  // The store was moved to this server: say so, it is an operator's step (docs/global-log.md).
  if (!logOffset) return done;
  return `${done}\nthe log came from another server: raised its position offset from ${logOffset.previous} to ${logOffset.current}, so new events land above it`;
}
