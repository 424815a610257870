import { resolve } from 'node:path';
import { ValidationError } from '../errors.js';
import type { ConnectionConfig } from './connection.js';

/** Where the embedded database lives when neither DATABASE_URL nor ANNALS_DATA_DIR is set. */
export const defaultDataDir = '.annals-data';

/** The database an application or the `annals` command runs on, and a line saying which. */
export interface EnvironmentConnection {
  /** What `createEventStore` takes. */
  config: ConnectionConfig;
  /** For people: `PostgreSQL at db.example:5432/app` or `embedded PGlite in /srv/app/.annals-data`; never a password. */
  description: string;
}

const urlExample = 'postgres://user:password@host:5432/database';

/**
 * The database `env` chooses, as the `annals` command and the demo choose it:
 * - `DATABASE_URL` (a `postgres://` or `postgresql://` URL) when set and not empty;
 * - otherwise an embedded PGlite persisted in `ANNALS_DATA_DIR` (default `./.annals-data`),
 *   so that a project runs with nothing installed;
 * - but with `NODE_ENV=production` and neither set, no database: a server whose
 *   DATABASE_URL went missing would otherwise start on an empty embedded database of its
 *   own, look healthy, and serve nothing. Set `ANNALS_DATA_DIR` to want that on purpose.
 *
 * The URL is checked here, where the variable is named, so that a typo is reported as
 * `DATABASE_URL: ...` rather than as a driver's TypeError or a MySQL URL tried as Postgres.
 *
 * @throws ValidationError (field `DATABASE_URL`) for a value that is not a Postgres URL, or
 * for none in production; the message never repeats the value (it may hold a password).
 *
 * @example
 * ```ts
 * const { config, description } = connectionFromEnvironment();
 * const store = createEventStore(config);
 * console.log(`running on ${description}`);
 * ```
 */
export function connectionFromEnvironment(env: Readonly<Record<string, string | undefined>> = process.env): EnvironmentConnection {
  const url = env.DATABASE_URL;
  if (url) return { config: { connectionString: url }, description: describePostgresUrl(url) };
  const dataDir = env.ANNALS_DATA_DIR;
  if (!dataDir && env.NODE_ENV === 'production') {
    throw invalid(
      'is not set, and NODE_ENV is production: set it to your database (' +
        urlExample +
        '), or set ANNALS_DATA_DIR to run on an embedded PGlite database in that directory on purpose',
    );
  }
  const directory = resolve(dataDir || defaultDataDir);
  return { config: { pglite: directory }, description: `embedded PGlite in ${directory}` };
}

/** `PostgreSQL at host:port/database` for a checked DATABASE_URL. @throws ValidationError */
function describePostgresUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(`is not a URL; expected one like ${urlExample}`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    // The scheme is named only when written as one (`mysql://`): in `ada:secret@db` the
    // URL parser's scheme is a user name.
    const scheme = value.startsWith(`${url.protocol}//`) ? ` (its scheme is '${url.protocol.slice(0, -1)}')` : '';
    throw invalid(`must be a PostgreSQL URL, starting postgres:// or postgresql://${scheme}; for example ${urlExample}`);
  }
  // pg takes the host from ?host= when the URL has none (a Unix socket directory).
  const host = url.hostname || url.searchParams.get('host') || 'localhost';
  const database = safeDecode(url.pathname.slice(1));
  return `PostgreSQL at ${host}:${url.port || 5432}${database ? `/${database}` : ''}`;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const invalid = (reason: string) => new ValidationError([{ field: 'DATABASE_URL', reason }]);
