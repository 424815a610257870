import { connectionFromEnvironment, createEventStore, type EventStore } from '../index.js';
import { resolve } from 'node:path';
import { defaultDataDir } from '../database/environment.js';
import { developmentMasterKey } from '../privacy/development-key.js';
import { masterKeyVariable } from '../privacy/master-key.js';

/** The store's schema: `--schema`, else the config's, else `ANNALS_SCHEMA`, else `annals`. */
export function schemaFor(options: { flag?: string; config?: string; env?: NodeJS.ProcessEnv }): string {
  return options.flag ?? options.config ?? ((options.env ?? process.env).ANNALS_SCHEMA || 'annals');
}

/** A store the commands opened, and where it is, for people. */
export interface OpenedStore {
  store: EventStore;
  /** `PostgreSQL at db.example:5432/app` or `embedded PGlite in /srv/app/.annals-data`. */
  description: string;
  /**
   * The description with the schema, and for an embedded database why it was chosen:
   * `embedded PGlite in /srv/app/.annals-data (DATABASE_URL is not set), schema "annals"`.
   */
  database: string;
}

/**
 * Opens the store the commands work on: `DATABASE_URL`, or the embedded PGlite that
 * connectionFromEnvironment chooses. The caller closes it.
 *
 * @throws ValidationError naming DATABASE_URL when it is not a Postgres URL, or unset in production.
 */
export function openStore(schema: string, env: NodeJS.ProcessEnv = process.env): OpenedStore {
  const { config, description } = connectionFromEnvironment(env);
  const store = createEventStore(config, { schema, ...developmentPrivacy(config, env) });
  // An embedded database where a Postgres was meant (a DATABASE_URL not exported) runs
  // fine and shows nothing: say why it was chosen.
  const why = 'pglite' in config ? ' (DATABASE_URL is not set)' : '';
  return { store, description, database: `${description}${why}, schema "${store.schema}"` };
}

/**
 * Outside production with no ANNALS_MASTER_KEY, the development master key
 * (privacy/development-key.ts) in the embedded database's folder (`ANNALS_DATA_DIR`,
 * default `.annals-data`, also on Postgres), announced once on stderr: `npm start` then
 * works with nothing set. In production nothing: the store reads ANNALS_MASTER_KEY itself
 * and says it is missing when personal data is first sealed or opened.
 */
function developmentPrivacy(config: ReturnType<typeof connectionFromEnvironment>['config'], env: NodeJS.ProcessEnv) {
  if (env[masterKeyVariable] || env.NODE_ENV === 'production') return {};
  const folder = 'pglite' in config && typeof config.pglite === 'string' ? config.pglite : resolve(env.ANNALS_DATA_DIR || defaultDataDir);
  // Made and announced only when a personal field is first sealed or opened: a command
  // that meets none (or fails first) leaves no file and says nothing of it.
  const masterKey = () => {
    const { key, file } = developmentMasterKey(folder);
    if (file !== undefined && !announcedKeys.has(file)) {
      announcedKeys.add(file);
      process.stderr.write(`annals: personal data is encrypted with the development master key in ${file}; set ${masterKeyVariable} in production\n`);
    }
    return key;
  };
  return { privacy: { masterKey } };
}

const announcedKeys = new Set<string>();

/**
 * Says which database a status command reads, so that a forgotten DATABASE_URL (an empty
 * embedded database) does not pass for a store where nothing happens: as the first line
 * of the human output (`database: ...`, the returned function adds it), or with `json`
 * on stderr at once, leaving stdout one JSON document. Without a database (a caller
 * that opened its own store), output is left as it is.
 *
 * @example
 * ```ts
 * const announced = announceDatabase({ json: false, database });
 * return announced(formatStatus(await projectionStatus(store, projections), names));
 * ```
 */
export function announceDatabase(options: { json: boolean; database?: string | undefined }): (output: string) => string {
  const { database } = options;
  if (database === undefined) return (output) => output;
  if (!options.json) return (output) => `database: ${database}\n${output}`;
  process.stderr.write(`annals: database: ${database}\n`);
  return (output) => output;
}

/**
 * Runs `work` on a store opened for `schema` and closes it afterwards, whatever happens.
 */
export async function withStore<T>(schema: string, work: (store: EventStore, where: Omit<OpenedStore, 'store'>) => Promise<T>): Promise<T> {
  const { store, ...where } = openStore(schema);
  try {
    return await work(store, where);
  } finally {
    await store.close();
  }
}
