import { AssertionError, deepStrictEqual } from 'node:assert/strict';
import { quoteIdent } from '../database/quote-ident.js';
import { ValidationError, type ValidationIssue } from '../errors.js';
import type { EventStoreTransaction } from '../event-store/event-store.js';

/** Where a spec's tables are: the spec's schema, for one projection (named in errors). */
export interface SpecTables {
  tx: EventStoreTransaction;
  schema: string;
  projection: string;
}

interface Column {
  name: string;
  type: string;
}

type Row = Record<string, unknown>;

/** The tables (and views) the projection's `schema` function created, by name. */
async function tablesOf({ tx, schema }: SpecTables): Promise<string[]> {
  const rows = await tx.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY c.relname`,
    [schema],
  );
  return rows.map((row) => row.name);
}

/**
 * The table's columns in order, with their types.
 * @throws ValidationError when the projection created no table of that name.
 */
async function columnsOf(at: SpecTables, table: string): Promise<Column[]> {
  const tables = await tablesOf(at);
  if (!tables.includes(table)) {
    const known = tables.length === 0 ? 'it created none' : `its tables: ${tables.join(', ')}`;
    throw new ValidationError([{ field: 'table', reason: `'${table}' is not a table of projection '${at.projection}' (${known})` }]);
  }
  return at.tx.query<Column>(
    `SELECT a.attname AS name, t.typname AS type
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_type t ON t.oid = a.atttypid
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [at.schema, table],
  );
}

/**
 * `bigint` columns as JS bigints on every backend: pg returns them as strings and PGlite
 * (as the store configures it) as bigints, and a spec must pass or fail alike on both.
 * Expected values may be numbers or digit strings too: they are converted the same way.
 */
function normalized(columns: readonly Column[], row: Row): Row {
  const out: Row = { ...row };
  for (const { name, type } of columns) {
    const value = out[name];
    if (type === 'int8') out[name] = toBigInt(value);
    else if (type === '_int8' && Array.isArray(value)) out[name] = value.map(toBigInt);
  }
  return out;
}

function toBigInt(value: unknown): unknown {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
  return value;
}

/** Type order for sorting rows whatever they hold: null, booleans, numbers, strings, dates, the rest. */
function rank(value: unknown): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'boolean') return 1;
  if (typeof value === 'number' || typeof value === 'bigint') return 2;
  if (typeof value === 'string') return 3;
  if (value instanceof Date) return 4;
  return 5;
}

const json = (value: unknown) => JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));

function compareValues(a: unknown, b: unknown): number {
  const byRank = rank(a) - rank(b);
  if (byRank !== 0) return byRank;
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime();
  const [x, y] = rank(a) === 5 ? [json(a), json(b)] : [a as string | number | bigint | boolean, b as string | number | bigint | boolean];
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Rows in a fixed order, column after column (as ORDER BY 1, 2, … would, for any type). */
function sorted(columns: readonly Column[], rows: readonly Row[]): Row[] {
  return [...rows].sort((a, b) => {
    for (const { name } of columns) {
      const order = compareValues(a[name], b[name]);
      if (order !== 0) return order;
    }
    return 0;
  });
}

/**
 * Every row of one of the projection's tables, `bigint` columns as bigints, in a fixed
 * order (by the first column, then the second, …), so a test may compare them with toEqual.
 *
 * @throws ValidationError when the projection has no such table.
 */
export async function readSpecRows<R = Row>(at: SpecTables, table: string): Promise<R[]> {
  const columns = await columnsOf(at, table);
  const rows = await at.tx.query<Row>(`SELECT * FROM ${quoteIdent(at.schema)}.${quoteIdent(table)}`);
  return sorted(columns, rows.map((row) => normalized(columns, row))) as R[];
}

/**
 * Asserts that `table` holds exactly `expected`, in any order. Each expected row names
 * every column: one left out or one the table does not have is a mistake in the spec
 * (ValidationError), not a difference in the rows (AssertionError).
 */
export async function assertSpecRows(at: SpecTables, table: string, rows: readonly object[]): Promise<void> {
  const expected = rows as readonly Row[];
  const columns = await columnsOf(at, table);
  const names = columns.map((column) => column.name);
  const issues: ValidationIssue[] = [];
  if (!Array.isArray(expected)) issues.push({ field: 'rows', reason: 'must be an array of rows' });
  else {
    expected.forEach((row, index) => {
      if (typeof row !== 'object' || row === null) return issues.push({ field: `rows[${index}]`, reason: 'must be an object' });
      for (const key of Object.keys(row)) {
        if (!names.includes(key)) issues.push({ field: `rows[${index}].${key}`, reason: `'${key}' is not a column of ${table} (${names.join(', ')})` });
      }
      for (const name of names) {
        if (!(name in row)) issues.push({ field: `rows[${index}]`, reason: `leaves out column '${name}': name every column (check a few with then())` });
      }
    });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  const actual = await readSpecRows<Row>(at, table);
  const wanted = sorted(
    columns,
    expected.map((row) => normalized(columns, row)),
  );
  try {
    deepStrictEqual(actual, wanted);
  } catch (error) {
    if (!(error instanceof AssertionError)) throw error;
    // With the operator, Node appends its diff of actual and expected to the message.
    throw new AssertionError({
      message: `table '${table}' of projection '${at.projection}' does not hold the expected rows (compared in any order)`,
      actual,
      expected: wanted,
      operator: 'deepStrictEqual',
    });
  }
}
