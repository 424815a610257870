import { resolve } from 'node:path';
import type { ConnectionConfig } from '../database/connection.js';

/** Where an embedded database lives when DATABASE_URL is not set. */
export const defaultDataDir = '.annals-data';

/**
 * The database the command-line entry points use: `DATABASE_URL` when set, otherwise an
 * embedded PGlite persisted in `ANNALS_DATA_DIR` (default `./.annals-data`), so the
 * commands run with nothing installed (examples/demo/connection.ts makes the same choice).
 */
export function connectionFromEnvironment(env: NodeJS.ProcessEnv = process.env): {
  config: ConnectionConfig;
  description: string;
} {
  if (env.DATABASE_URL) {
    const url = new URL(env.DATABASE_URL);
    return {
      config: { connectionString: env.DATABASE_URL },
      description: `PostgreSQL at ${url.hostname}:${url.port || 5432}${url.pathname}`,
    };
  }
  const dataDir = resolve(env.ANNALS_DATA_DIR ?? defaultDataDir);
  return { config: { pglite: dataDir }, description: `embedded PGlite in ${dataDir}` };
}
