import { createEventStore, type EventStore } from '../index.js';
import { connectionFromEnvironment } from './environment.js';

/** The store's schema: `--schema`, else the config's, else `ANNALS_SCHEMA`, else `annals`. */
export function schemaFor(options: { flag?: string; config?: string; env?: NodeJS.ProcessEnv }): string {
  return options.flag ?? options.config ?? ((options.env ?? process.env).ANNALS_SCHEMA || 'annals');
}

/**
 * Opens the store the commands work on: `DATABASE_URL`, or the embedded PGlite of
 * environment.ts. The caller closes it.
 */
export function openStore(schema: string, env: NodeJS.ProcessEnv = process.env): { store: EventStore; description: string } {
  const { config, description } = connectionFromEnvironment(env);
  return { store: createEventStore(config, { schema }), description };
}

/**
 * Runs `work` on a store opened for `schema` and closes it afterwards, whatever happens.
 */
export async function withStore<T>(schema: string, work: (store: EventStore, description: string) => Promise<T>): Promise<T> {
  const { store, description } = openStore(schema);
  try {
    return await work(store, description);
  } finally {
    await store.close();
  }
}
