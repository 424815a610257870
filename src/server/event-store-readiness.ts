import { embeddedMigrations } from '../database/embedded-migrations.js';
import { quoteIdent } from '../database/quote-ident.js';
import { SchemaNotMigratedError } from '../errors.js';
import type { EventStore } from '../event-store/event-store.js';
import type { ReadinessCheck } from './readiness.js';

/** The migrations this code was built with, by number: `{ version: 10, name: '0010_consumers' }`. */
const knownMigrations = embeddedMigrations.map(({ file }) => ({ version: Number.parseInt(file.slice(0, 4), 10), name: file.replace(/\.sql$/, '') }));

/**
 * The store's readiness: one query that both reaches the database and reads which
 * migrations its schema has. Not migrated at all is the store's SchemaNotMigratedError (the
 * schema, or its migrations table, is missing); migrated by an older release only (a
 * deploy whose `annals migrate` step has not run yet) is one too, naming the first
 * migration missing, because this code's statements would fail on that schema; a database
 * that cannot be reached is the store's DatabaseUnreachableError.
 *
 * It reads the store's migrations table, which no store API exposes yet: `migrate()`
 * would answer the question by writing, and a probe must never write. `appends: false`
 * keeps the probe's transaction out of the log's readers' way (docs/global-log.md).
 *
 * Every service runs it, first, as `event-store`; it is exported for a process that
 * wants the same answer without a server (a worker's own probe).
 *
 * @example
 * ```ts
 * await eventStoreReadiness(store).check(AbortSignal.timeout(2000)); // throws when not ready
 * ```
 */
export function eventStoreReadiness(store: EventStore): ReadinessCheck {
  return {
    name: 'event-store',
    async check() {
      const [row] = await store.withTransaction(
        (tx) => tx.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${quoteIdent(store.schema)}.annals_migrations`),
        { appends: false },
      );
      const applied = row?.version ?? 0;
      const missing = knownMigrations.find((migration) => migration.version > applied);
      if (missing) throw new SchemaNotMigratedError(store.schema, `migration ${missing.name}`);
    },
  };
}
