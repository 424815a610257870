/**
 * How the store's statements reach a pooled client: views of a client that kysely is
 * handed (named statements, errors translated), and the direct path of hot reads
 * (Connection.query). connection.ts decides which applies.
 */
import type { PostgresPoolClient } from 'kysely';
import pg from 'pg';

export type Translate = (error: unknown) => unknown;

/** A view of a client whose failing queries throw what `translate` makes of the error. */
export function withTranslatedErrors(client: PostgresPoolClient, translate: Translate): PostgresPoolClient {
  return {
    query(...args: unknown[]) {
      const result = (client as unknown as { query(...a: unknown[]): unknown }).query(...args);
      // A cursor (kysely's stream()) is returned as is; it reports its own errors.
      if (typeof (result as PromiseLike<unknown> | undefined)?.then !== 'function') return result;
      return Promise.resolve(result).catch((error: unknown) => {
        throw translate(error);
      });
    },
    release: () => client.release(),
  } as unknown as PostgresPoolClient;
}

/**
 * A view of a pg client that sends the statements registered in `prepared` by name, and
 * whose failing queries throw what `translate` makes of the error. pg
 * prepares a named statement on a connection the first time it is used there, then only
 * binds and executes it.
 *
 * It calls pg with a callback and makes the promise itself. pg's own promise (a query
 * without a callback) kept each result alive across enough allocation for the young
 * generation to promote it: reading the log through it peaked at twice raw pg's V8 heap
 * and spent the difference in garbage collection (docs/benchmarks.md, issue 17).
 */
export function withNamedStatements(client: pg.PoolClient, prepared: Map<string, string>, translate: Translate | undefined): PostgresPoolClient {
  return {
    query(text: unknown, parameters?: ReadonlyArray<unknown>) {
      // A cursor (kysely's stream()) or any other query object goes to pg as it is; it
      // reports its own errors.
      if (typeof text !== 'string') return client.query(text as never);
      // Errors are translated here rather than by withTranslatedErrors: one promise per query, not two.
      return new Promise<pg.QueryResult>((resolve, reject) => {
        send(client, text, parameters, prepared.get(text), (error, result) => (error ? reject(translate ? translate(error) : error) : resolve(result)));
      });
    },
    release: () => client.release(),
  } as unknown as PostgresPoolClient;
}

/**
 * Connection.query on a pg pool: the pool's callbacks and pg's, one promise per call,
 * where kysely's executor made about ten. Every statement runs named (`nameOf`), planned
 * once per connection.
 *
 * pg remembers which names it has prepared on each connection, and sends a known one by
 * name alone; Postgres can refuse that, before running anything:
 * - the statement was planned for the result columns its relations had then, and they
 *   changed: a rebuild switch that gives a read model other columns, through its views
 *   ("cached plan must not change result type");
 * - the connection no longer has it (a `DEALLOCATE` or `DISCARD ALL` on a pool of the
 *   caller's, or a statement pg closed after a parameter failed to serialize).
 * pg would go on sending it by name on that connection, so the connection is closed, and
 * the read runs again, unnamed, on another.
 */
export function poolQuery(pool: pg.Pool, nameOf: (text: string) => string, connectFailed: Translate, translate: Translate | undefined) {
  const run = <Row>(text: string, parameters: readonly unknown[], name: string | undefined, resolve: (rows: Row[]) => void, reject: (error: unknown) => void): void => {
    pool.connect((connectError, client, release) => {
      if (connectError || client === undefined) return reject(connectFailed(connectError));
      send(client, text, parameters, name, (error, result) => {
        if (error && name !== undefined && isStaleStatement(error)) {
          release(error);
          return run(text, parameters, undefined, resolve, reject);
        }
        release();
        if (error) reject(translate ? translate(error) : error);
        else resolve(result.rows as Row[]);
      });
    });
  };
  return <Row>(text: string, parameters: readonly unknown[]) => new Promise<Row[]>((resolve, reject) => run(text, parameters, nameOf(text), resolve, reject));
}

/**
 * Postgres' refusals of a named statement pg believes prepared (poolQuery). By SQLSTATE
 * and the routine that raised it, which are never translated (the message is, with
 * `lc_messages`).
 */
function isStaleStatement(error: Error): boolean {
  const { code, routine } = error as Error & { code?: string; routine?: string };
  if (code === '26000') return true; // invalid_sql_statement_name: no such prepared statement
  return code === '0A000' && (routine === 'RevalidateCachedQuery' || error.message === 'cached plan must not change result type');
}

/**
 * Sends one statement, by `name` when it has one. The Query is made from the text and the
 * name set on it after: given a config object, pg copies it property by property
 * (descriptors and all), which cost more than the rest of sending a one-row read.
 */
function send(client: pg.PoolClient, text: string, parameters: ReadonlyArray<unknown> | undefined, name: string | undefined, callback: (error: Error | undefined, result: pg.QueryResult) => void): void {
  const query = new pg.Query(text, parameters as unknown[] | undefined, callback as never);
  // pg reads `name` only when it sends the query (Query.submit), not when it makes it.
  if (name !== undefined) (query as pg.Query & { name?: string }).name = name;
  client.query(query);
}
