/**
 * Reading a projection's read model from a resolver. Readers find the live tables through
 * the projection's read schema (docs/projections.md, "Where read models live"), so a
 * query keeps working across a rebuild's switch; every read of a GraphQL part goes
 * through here, which is also the one place that knows which projection a request reads.
 */
import { CompiledQuery, type Compilable, type Kysely } from 'kysely';
import type { EventStore } from '../event-store/event-store.js';
import { storeQuery } from '../event-store/store-locals.js';
import { readSchemaOf, type AnyProjection } from '../projections/define-projection.js';

/** What a read needs from the resolver's context: the service's context has it. */
export interface ReadContext {
  readonly store: EventStore;
  /**
   * Waits until the projections have processed the position the client sent
   * (`Annals-Min-Position`; at once without one): the service's context has it
   * (docs/server.md, "Read your writes"). A context without it reads at once.
   */
  readonly readYourWrites?: (projections: readonly AnyProjection[]) => Promise<void>;
}

/**
 * Runs `query` on the projection's live tables, typed as `Tables`, on the store's pool
 * outside any transaction (`store.read`): one statement sees one snapshot already, and
 * BEGIN and COMMIT would be two more round trips on every read. A query of several
 * statements sees each one's own snapshot; when they must agree, read in
 * `store.withTransaction` with `readSchemaOf` instead. When the client sent a position,
 * first waits until the projection has processed it, so every part answers with the
 * client's own writes without asking for it (the wait is once per projection and
 * request).
 */
export interface ReadModel<Tables> {
  <T>(context: ReadContext, query: (db: Kysely<Tables>) => Promise<T>): Promise<T>;
  /**
   * A read run on every request (a loader's): `build` makes its query once per read
   * schema, and each call runs the compiled SQL with its own `parameters`, skipping
   * kysely's building and compiling, which cost more than the rest of a one-row read.
   *
   * `build` gets stand-ins for the parameters, not their values: pass them into the
   * query as values (`sql\`any(${ids}::text[])\``, `.where('id', '=', id)`) and do not
   * compute with them (`ids.length`, `ids.map(...)`, `'in', ids`: the stand-in is no
   * array). A stand-in that does not reach the SQL as one value throws the first time.
   *
   * @example
   * ```ts
   * const likesOf = readLikeCounts.prepare((db, ids: readonly string[]) =>
   *   db.selectFrom('like_counts').select(['post_id', 'likes']).where('post_id', '=', sql<string>`any(${ids}::text[])`),
   * );
   * const rows = await likesOf(context, ids); // in a loader
   * ```
   */
  prepare<P extends readonly unknown[], Row>(build: (db: Kysely<Tables>, ...parameters: P) => Compilable<Row>): PreparedRead<P, Row>;
}

/** A read made by `ReadModel.prepare`: its rows for these parameters. */
export type PreparedRead<P extends readonly unknown[], Row> = (context: ReadContext, ...parameters: P) => Promise<Row[]>;

/**
 * A reader of `projection`'s read model, with its table types.
 *
 * @example
 * ```ts
 * interface LikeCountsTables { like_counts: { post_id: string; likes: number } }
 * const readLikeCounts = readModel<LikeCountsTables>(likeCounts);
 * // in a resolver or loader:
 * const rows = await readLikeCounts(context, (db) => db.selectFrom('like_counts').selectAll().where('post_id', 'in', ids).execute());
 * ```
 */
export function readModel<Tables>(projection: AnyProjection): ReadModel<Tables> {
  // The handle on the read schema, per pool handle: a service may serve several stores,
  // and `withSchema` builds a new Kysely instance each time it is called.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const handles = new WeakMap<Kysely<any>, Map<string, Kysely<Tables>>>();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const handleOf = (db: Kysely<any>, storeSchema: string): Kysely<Tables> => {
    let bySchema = handles.get(db);
    if (bySchema === undefined) handles.set(db, (bySchema = new Map()));
    let handle = bySchema.get(storeSchema);
    if (handle === undefined) {
      handle = db.withSchema(readSchemaOf(storeSchema, projection)) as Kysely<Tables>;
      bySchema.set(storeSchema, handle);
    }
    return handle;
  };
  const read = (async (context, query) => {
    await context.readYourWrites?.([projection]);
    const { store } = context;
    return store.read((db) => query(handleOf(db, store.schema)));
  }) as ReadModel<Tables>;
  read.prepare = <P extends readonly unknown[], Row>(build: (db: Kysely<Tables>, ...parameters: P) => Compilable<Row>): PreparedRead<P, Row> => {
    // Per store (its schema names the read schema), and per number of parameters given (a
    // trailing optional one). Compiled on a store's first call; every later call finds it
    // without waiting.
    const templates = new WeakMap<EventStore, Map<number, Template>>();
    const templateOf = async (store: EventStore, count: number): Promise<Template> => {
      let byCount = templates.get(store);
      if (byCount === undefined) templates.set(store, (byCount = new Map()));
      let template = byCount.get(count);
      if (template === undefined) {
        template = await store.read(async (db) => compileTemplate(handleOf(db, store.schema), build, count));
        byCount.set(count, template);
      }
      return template;
    };
    return async (context, ...parameters) => {
      await context.readYourWrites?.([projection]);
      const { store } = context;
      const template = templates.get(store)?.get(parameters.length) ?? (await templateOf(store, parameters.length));
      const values = template.bind(parameters);
      // The store's own path skips kysely's executor; a store of another kind reads through `read`.
      const query = store[storeQuery];
      if (query !== undefined) return query.call(store, template.sql, values) as Promise<Row[]>;
      return store.read(async (db) => (await db.executeQuery<Row>(CompiledQuery.raw(template.sql, values))).rows);
    };
  };
  return read;
}

/** A compiled query's SQL, and its parameters filled in per call. */
interface Template {
  sql: string;
  bind(parameters: readonly unknown[]): unknown[];
}

/** Marks the stand-in for the parameter at `index`: kysely passes it through to the compiled parameters as it is. */
class StandIn {
  constructor(readonly index: number) {}
}

function compileTemplate<Tables, P extends readonly unknown[], Row>(
  handle: Kysely<Tables>,
  build: (db: Kysely<Tables>, ...parameters: P) => Compilable<Row>,
  count: number,
): Template {
  const standIns = Array.from({ length: count }, (_, index) => new StandIn(index));
  const compiled = build(handle, ...(standIns as unknown as P)).compile();
  // For each parameter of the SQL: the call's parameter it stands for, or a constant of the query.
  const slots = compiled.parameters.map((value) => (value instanceof StandIn ? value.index : -1));
  const missing = standIns.filter((standIn) => !slots.includes(standIn.index));
  if (missing.length > 0) {
    throw new TypeError(
      `readModel(...).prepare: parameter ${missing.map((standIn) => standIn.index + 1).join(', ')} did not reach the SQL as a value; pass each parameter into the query as a value (sql\`any(\${ids}::text[])\`), not computed with or spread`,
    );
  }
  return {
    sql: compiled.sql,
    bind: (parameters) => slots.map((slot, at) => (slot === -1 ? compiled.parameters[at] : parameters[slot])),
  };
}
