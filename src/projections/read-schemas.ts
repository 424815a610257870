import { quoteIdent, quoteLiteral } from '../database/quote-ident.js';
import { SchemaConflictError } from '../errors.js';
import type { EventStoreTransaction } from '../event-store/event-store.js';

/**
 * What Annals creates outside the store's schema, and how it knows what is its own.
 *
 * A generation's tables live in a schema of their own, and readers reach the live ones
 * through views in the projection's read schema, which may be a schema of the user's
 * (with views of their own) or, by a name collision, another store's. Annals drops or
 * replaces only what it created for this store's projection: each generation schema
 * and each read view carries a Postgres comment naming its owner, checked before
 * anything is dropped. Anything else in the way is a SchemaConflictError.
 */

/** The owner recorded in a comment: a fixed JSON shape, compared as text. */
export function ownerTag(storeSchema: string, projection: string): string {
  return JSON.stringify({ annals: 'projection', store: storeSchema, projection });
}

const table = (schema: string, name: string) => `${quoteIdent(schema)}.${quoteIdent(name)}`;

async function schemaComment(tx: EventStoreTransaction, schema: string): Promise<{ exists: boolean; comment: string | undefined }> {
  const [row] = await tx.query<{ comment: string | null }>(
    `SELECT obj_description(oid, 'pg_namespace') AS comment FROM pg_namespace WHERE nspname = $1`,
    [schema],
  );
  return { exists: row !== undefined, comment: row?.comment ?? undefined };
}

/**
 * Serializes the check-then-create of one schema name across stores: two stores' setups
 * that both find a name free would otherwise both create it, and one would fail with a
 * raw duplicate-key error instead of a SchemaConflictError.
 */
async function lockSchemaName(tx: EventStoreTransaction, schema: string): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('annals.schema'), hashtext($1))`, [schema]);
}

/**
 * Creates a generation's schema, tagged with its owner. A schema of that name left by
 * this projection (a store recreated from scratch leaves its old generations behind) is
 * dropped first, unless a view of someone else's reads it; one that is not this
 * projection's is refused, never dropped.
 */
export async function createGenerationSchema(tx: EventStoreTransaction, projection: string, schema: string): Promise<void> {
  const owner = ownerTag(tx.schema, projection);
  await lockSchemaName(tx, schema);
  const found = await schemaComment(tx, schema);
  if (found.exists) {
    if (found.comment !== owner) {
      throw new SchemaConflictError(
        `schema ${quoteIdent(schema)} exists and was not created for projection '${projection}' of the store in ${quoteIdent(tx.schema)}` +
          (found.comment ? ` (its comment names ${found.comment})` : ' (it has no Annals comment)') +
          '; nothing was dropped: give the projection another readSchema, or drop that schema yourself',
        { schema, ...(found.comment ? { owner: found.comment } : {}) },
      );
    }
    const reader = await foreignReader(tx, projection, schema);
    if (reader !== undefined) {
      throw new SchemaConflictError(
        `schema ${quoteIdent(schema)}, left by an earlier life of projection '${projection}', is read by ${reader}, which is not ` +
          "Annals'; nothing was dropped: drop or move that view, then set the projection up again",
        { schema, relation: reader },
      );
    }
    await tx.query(`DROP SCHEMA ${quoteIdent(schema)} CASCADE`);
  }
  await tx.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
  await tx.query(`COMMENT ON SCHEMA ${quoteIdent(schema)} IS ${quoteLiteral(owner)}`);
}

/**
 * Drops a retired generation's schema if it is this projection's (tagged so, or made
 * before generations were tagged: recorded in the store's own generations table, which
 * is where the caller found the name) and nothing but this projection's own read views
 * reads its tables. Otherwise it is left, and false returned: a view of the user's that
 * still reads the old tables is theirs to drop or move first.
 */
export async function dropGenerationSchema(tx: EventStoreTransaction, projection: string, schema: string): Promise<boolean> {
  const found = await schemaComment(tx, schema);
  if (!found.exists || (found.comment !== undefined && found.comment !== ownerTag(tx.schema, projection))) return false;
  if ((await foreignReader(tx, projection, schema)) !== undefined) return false;
  await tx.query(`DROP SCHEMA ${quoteIdent(schema)} CASCADE`);
  return true;
}

/**
 * A view outside `schema` that reads its tables, directly or through other views, and is
 * not one of this projection's read views (which go with the tables): DROP … CASCADE
 * would take it along. Read views made before views were tagged count as the
 * projection's only in a read schema its generations recorded.
 */
async function foreignReader(tx: EventStoreTransaction, projection: string, schema: string): Promise<string | undefined> {
  const [row] = await tx.query<{ name: string }>(
    `WITH RECURSIVE readers AS (
       SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1
       UNION
       SELECT r.ev_class FROM readers
         JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = readers.oid AND d.classid = 'pg_rewrite'::regclass
         JOIN pg_rewrite r ON r.oid = d.objid)
     SELECT c.oid::regclass::text AS name FROM readers
       JOIN pg_class c ON c.oid = readers.oid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname <> $1 AND obj_description(c.oid, 'pg_class') IS DISTINCT FROM $2
        AND NOT (obj_description(c.oid, 'pg_class') IS NULL AND ${legacyReadView(tx.schema, 'c', 'n', '$3')}
                 AND EXISTS (SELECT 1 FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                               JOIN pg_class t ON t.oid = d.refobjid AND t.relname = c.relname
                               JOIN pg_namespace tn ON tn.oid = t.relnamespace AND tn.nspname = $1
                              WHERE r.ev_class = c.oid))
      LIMIT 1`,
    [schema, ownerTag(tx.schema, projection), projection],
  );
  return row?.name;
}

/**
 * SQL: relation `c` in namespace `n` sits in a read schema this projection's generations
 * recorded (the projection's name in the given parameter), where an untagged view of a table's
 * name over one of its generation schemas can only be Annals' own from before views were
 * tagged.
 */
function legacyReadView(storeSchema: string, c: string, n: string, projectionParameter: string): string {
  return (
    `${c}.relkind = 'v' AND ${n}.nspname IN ` +
    `(SELECT read_schema FROM ${table(storeSchema, 'projection_generations')} WHERE projection = ${projectionParameter})`
  );
}

interface Relation {
  name: string;
  kind: string;
  comment: string | null;
  /** A view made before views were tagged: reads the table of its name in one of this projection's generation schemas. */
  legacy: boolean;
}

/** The relations of `readSchema`, each told whether it is an untagged read view of this projection. */
async function relationsIn(tx: EventStoreTransaction, projection: string, readSchema: string): Promise<Relation[]> {
  return tx.query<Relation>(
    `SELECT c.relname AS name, c.relkind::text AS kind, obj_description(c.oid, 'pg_class') AS comment,
            obj_description(c.oid, 'pg_class') IS NULL AND ${legacyReadView(tx.schema, 'c', 'n', '$2')} AND EXISTS (
              SELECT 1 FROM pg_rewrite r
                JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                JOIN pg_class t ON t.oid = d.refobjid AND t.relname = c.relname
                JOIN pg_namespace tn ON tn.oid = t.relnamespace
               WHERE r.ev_class = c.oid
                 AND tn.nspname IN (SELECT schema_name FROM ${table(tx.schema, 'projection_generations')} WHERE projection = $2)) AS legacy
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S')`,
    [readSchema, projection],
  );
}

/**
 * Tags the read views an earlier release left untagged in `readSchema` as this
 * projection's, while the generations still record that schema: when the read schema
 * moves, they stay behind (readers on the old name keep working) and go with their
 * generation's tables when it retires.
 */
export async function adoptReadViews(tx: EventStoreTransaction, projection: string, readSchema: string): Promise<void> {
  const owner = ownerTag(tx.schema, projection);
  for (const relation of await relationsIn(tx, projection, readSchema)) {
    if (relation.legacy) await tx.query(`COMMENT ON VIEW ${table(readSchema, relation.name)} IS ${quoteLiteral(owner)}`);
  }
}

/**
 * Points the views of `readSchema` at the tables of `generationSchema`, in the caller's
 * transaction: readers see the old tables until it commits and the new ones after, never
 * a mix. A view of this projection whose table is still there is replaced in place
 * (`CREATE OR REPLACE`), so views of the user's that read it keep working when its
 * columns stay compatible; one whose table is gone is dropped. Views and tables that are
 * not this projection's are never touched: one in the way of a new view is a conflict.
 */
export async function pointViewsAt(tx: EventStoreTransaction, projection: string, readSchema: string, generationSchema: string): Promise<void> {
  const owner = ownerTag(tx.schema, projection);
  await lockSchemaName(tx, readSchema);
  await tx.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(readSchema)}`);
  const relations = await relationsIn(tx, projection, readSchema);
  const ours = new Set(relations.filter((r) => r.kind === 'v' && (r.comment === owner || r.legacy)).map((r) => r.name));
  const others = new Map(relations.filter((r) => !ours.has(r.name)).map((r) => [r.name, r]));
  const tables = await tx.query<{ name: string }>(`SELECT tablename AS name FROM pg_tables WHERE schemaname = $1 ORDER BY tablename`, [
    generationSchema,
  ]);
  const wanted = new Set(tables.map((t) => t.name));
  for (const name of wanted) {
    const other = others.get(name);
    if (other) {
      throw new SchemaConflictError(
        `${kindName(other.kind)} ${table(readSchema, name)} is not projection '${projection}''s ` +
          (other.comment ? `(its comment names ${other.comment})` : '(it has no Annals comment)') +
          `; nothing was replaced: give the projection another readSchema, or rename that ${kindName(other.kind)}`,
        { schema: readSchema, relation: name, ...(other.comment ? { owner: other.comment } : {}) },
      );
    }
  }
  for (const name of ours) if (!wanted.has(name)) await tx.query(`DROP VIEW ${table(readSchema, name)}`);
  for (const name of wanted) {
    const select = `SELECT * FROM ${table(generationSchema, name)}`;
    if (ours.has(name)) await replaceView(tx, readSchema, name, select);
    else await tx.query(`CREATE VIEW ${table(readSchema, name)} AS ${select}`);
    await tx.query(`COMMENT ON VIEW ${table(readSchema, name)} IS ${quoteLiteral(owner)}`);
  }
}

/**
 * `CREATE OR REPLACE VIEW` keeps the views that depend on this one, but Postgres allows
 * it only when the new columns extend the old ones; otherwise the view is dropped and
 * made again (and a view of the user's that reads it must be dropped by its owner first:
 * Postgres refuses, and the switch with it, rather than drop the user's view).
 */
async function replaceView(tx: EventStoreTransaction, readSchema: string, name: string, select: string): Promise<void> {
  const view = table(readSchema, name);
  await tx.query('SAVEPOINT annals_replace_view');
  try {
    await tx.query(`CREATE OR REPLACE VIEW ${view} AS ${select}`);
    await tx.query('RELEASE SAVEPOINT annals_replace_view');
    return;
  } catch (error) {
    await tx.query('ROLLBACK TO SAVEPOINT annals_replace_view');
    if (!incompatibleColumns(error)) throw error;
  }
  try {
    await tx.query('SAVEPOINT annals_replace_view');
    await tx.query(`DROP VIEW ${view}`);
    await tx.query('RELEASE SAVEPOINT annals_replace_view');
  } catch (error) {
    if (sqlState(error) !== '2BP01') throw error;
    await tx.query('ROLLBACK TO SAVEPOINT annals_replace_view');
    throw new SchemaConflictError(
      `view ${view} must be made again (the new generation's columns do not extend the old ones), ` +
        'but objects that are not Annals\' depend on it; drop them, and make them again after the switch',
      { schema: readSchema, relation: name },
    );
  }
  await tx.query(`CREATE VIEW ${view} AS ${select}`);
}

const sqlState = (error: unknown): unknown => (error as { code?: unknown } | null)?.code;
// 42P16: a column dropped or renamed; 42804: a column's type changed.
const incompatibleColumns = (error: unknown): boolean => sqlState(error) === '42P16' || sqlState(error) === '42804';

const kindName = (kind: string): string =>
  ({ v: 'view', m: 'materialized view', S: 'sequence', f: 'foreign table' })[kind] ?? 'table';
