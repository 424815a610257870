import { SchemaNotMigratedError } from '../../errors.js';

/**
 * A query on a schema that was never migrated fails with Postgres' `relation
 * "annals.streams" does not exist`, which tells a new user neither that this is the
 * store's schema nor what to do. The store passes every query's error through here
 * (openConnection's translateError), so appends, reads and the consumers' and projections'
 * statements in `withTransaction` all report SchemaNotMigratedError instead.
 *
 * Only objects of the store's own schema count: the schema itself (3F000), a table or
 * view in it (42P01), a function of it (42883, the log functions of migration 0006). A
 * user's table missing in a `withTransaction` callback, or a projection's read model,
 * keeps Postgres' error. Postgres names no object in these errors but in the message,
 * unquoted (`relation "my schema.streams"`); a server whose messages are not in English
 * keeps its own error too.
 */
export function notMigratedError(error: unknown, schema: string): unknown {
  if (!(error instanceof Error)) return error;
  const code = (error as { code?: unknown }).code;
  const inSchema = (qualified: string | undefined) =>
    qualified !== undefined && qualified.startsWith(`${schema}.`) ? qualified.slice(schema.length + 1) : undefined;
  let relation: string | undefined;
  if (code === '42P01') relation = inSchema(/^relation "(.+)" does not exist$/.exec(error.message)?.[1]);
  else if (code === '42883') relation = inSchema(/^function (.+?)\(.*\) does not exist$/.exec(error.message)?.[1]);
  else if (code === '3F000' && error.message === `schema "${schema}" does not exist`) return new SchemaNotMigratedError(schema, undefined, { cause: error });
  return relation === undefined ? error : new SchemaNotMigratedError(schema, relation, { cause: error });
}
