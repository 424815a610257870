import { z } from 'zod';

/**
 * Postgres keeps at most 63 bytes of an identifier (NAMEDATALEN - 1) and silently cuts
 * the rest: two longer names that share their first 63 bytes would be one schema, while
 * everything keyed on the full name (the migration lock, the append channel) told them
 * apart. So every name that becomes an identifier is checked in bytes, never cut.
 */
export const maxIdentifierBytes = 63;

export const identifierBytes = (name: string): number => Buffer.byteLength(name, 'utf8');

// An unpaired surrogate is sent as U+FFFD: two names differing only there would be one.
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Postgres' own schemas: `pg_` starts the names it reserves for the system (pg_catalog,
 * pg_toast; CREATE SCHEMA refuses them), and information_schema is the SQL standard's
 * catalog views, which accepted CREATE TABLE: a store named so put its tables among them.
 * Compared as written, as Postgres does: a quoted `PG_x` is a name like any other.
 */
const isSystemSchema = (name: string): boolean => name.startsWith('pg_') || name === 'information_schema';

/**
 * A store's schema name: 1 to 63 bytes of UTF-8, no NUL, no unpaired surrogate, and no
 * `:` or `#`: those mark the schemas Annals derives for read models (`<store>:<name>`,
 * `…#g<n>`), so a store can never be given one of them (and have its tables dropped with
 * a retired generation). Nor one of Postgres' own schemas (isSystemSchema).
 */
export const schemaNameSchema = z
  .string({ error: 'must be a string' })
  .min(1, { error: 'must not be empty' })
  .refine((name) => !name.includes('\0') && !loneSurrogate.test(name), { error: 'must not contain a NUL character or an unpaired surrogate' })
  .refine((name) => !name.includes(':') && !name.includes('#'), {
    error: "must not contain ':' or '#' (they name the schemas of projections' read models)",
  })
  .refine((name) => !isSystemSchema(name), {
    error: "must not be information_schema or start with 'pg_' (Postgres reserves them for its own catalogs)",
  })
  .refine((name) => identifierBytes(name) <= maxIdentifierBytes, {
    error: (issue) =>
      `must be at most ${maxIdentifierBytes} bytes of UTF-8 (a Postgres identifier; longer names are cut and would ` +
      `name another store's schema), got ${identifierBytes(String(issue.input))}`,
  });
