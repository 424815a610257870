import { describe, expect, it } from 'vitest';
import { schemaNameSchema } from '../../src/database/schema-name.js';
import { createEventStore, ValidationError } from '../../src/index.js';

// A store named after one of Postgres' own schemas once migrated into it:
// `information_schema` was accepted and got the store's tables among the catalog views.
describe("a store's schema name", () => {
  it.each(['information_schema', 'pg_catalog', 'pg_toast', 'pg_', 'pg_annals'])('refuses %s, which Postgres reserves', (schema) => {
    const parsed = schemaNameSchema.safeParse(schema);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toBe("must not be information_schema or start with 'pg_' (Postgres reserves them for its own catalogs)");
  });

  it('refuses it when the store is created, before connecting', () => {
    // Nothing listens on port 1: a refusal that waited for a connection would fail otherwise.
    const create = () => createEventStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test' }, { schema: 'information_schema' });
    expect(create).toThrow(ValidationError);
    expect(create).toThrow(/^options\.schema: must not be information_schema or start with 'pg_'/);
  });

  it.each(['annals', 'public', 'PG_catalog', 'my_pg_schema', 'information_schema_2'])('accepts %s', (schema) => {
    expect(schemaNameSchema.safeParse(schema).success).toBe(true);
  });
});
