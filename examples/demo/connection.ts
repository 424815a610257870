import { resolve } from 'node:path';
import type { ConnectionConfig } from 'annals';

/**
 * Where the demo keeps its events: `DATABASE_URL` when set, otherwise an embedded PGlite
 * persisted in `ANNALS_DATA_DIR` (default `./.annals-data`), so `npm start` runs with
 * nothing installed.
 *
 * The same choice as the `annals` command's (src/cli/environment.ts), made here because
 * an application picks its own database: 'annals' takes a connection config and reads no
 * environment. Both default to one directory, so `npm run annals -- status` sees what the
 * demo projected; test/demo/connection.unit.test.ts keeps the two in step.
 *
 * @example
 * ```ts
 * const { config, description } = connectionFromEnvironment();
 * const store = createEventStore(config);
 * ```
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
  const dataDir = resolve(env.ANNALS_DATA_DIR ?? '.annals-data');
  return { config: { pglite: dataDir }, description: `embedded PGlite in ${dataDir}` };
}
