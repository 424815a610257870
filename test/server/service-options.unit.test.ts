import { afterAll, describe, expect, it } from 'vitest';
import { createEventStore, ValidationError } from '../../src/index.js';
import { createService } from '../../src/server/create-service.js';
import type { ServiceOptions } from '../../src/server/service-options.js';

// Options are checked before anything starts; no database is reached (the store is never used).
const store = createEventStore({ connectionString: 'postgres://postgres@127.0.0.1:1/unused' });
afterAll(() => store.close());
const schema = 'type Query { hello: String }';

async function refusal(options: unknown): Promise<ValidationError> {
  try {
    const service = await createService({ logger: 'silent', ...(options as ServiceOptions) });
    await service.close();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('createService accepted the options');
}

describe('createService options', () => {
  it.each([
    ['no store', { schema }, 'options.store'],
    ['a store that is not one', { store: { schema: 'x' }, schema }, 'options.store'],
    ['no schema', { store }, 'options.schema'],
    ['an empty schema', { store, schema: '  ' }, 'options.schema'],
    ['a negative depth', { store, schema, limits: { queryDepth: -1 } }, 'options.limits.queryDepth'],
    ['a fractional body limit', { store, schema, limits: { bodyLimitBytes: 1.5 } }, 'options.limits.bodyLimitBytes'],
    ['a timeout past what timers take', { store, schema, limits: { requestTimeoutMs: 2 ** 31 } }, 'options.limits.requestTimeoutMs'],
    ['a misspelt limit', { store, schema, limits: { queryDeph: 5 } }, 'options.limits'],
    ['an unknown option', { store, schema, graphiql: true }, 'options'],
    ['an unknown environment', { store, schema, environment: 'staging' }, 'options.environment'],
    ['a logger that is neither', { store, schema, logger: 'loud' }, 'options.logger'],
    ['a context that is not a function', { store, schema, context: {} }, 'options.context'],
    ['a readiness check without a name', { store, schema, readinessChecks: [{ name: '', check: async () => {} }] }, 'options.readinessChecks[0].name'],
  ])('refuses %s, naming the field', async (_case, options, field) => {
    expect((await refusal(options)).field).toBe(field);
  });

  it('refuses SDL that does not parse, naming options.schema and quoting graphql', async () => {
    const error = await refusal({ store, schema: 'type Query { hello: }' });
    expect(error.field).toBe('options.schema');
    expect(error.reason).toMatch(/^Syntax Error/);
  });

  it('refuses a resolver for a field the schema does not have, naming options.resolvers', async () => {
    const error = await refusal({ store, schema, resolvers: { Query: { goodbye: () => 'bye' } } });
    expect(error.field).toBe('options.resolvers');
    expect(error.reason).toBe('Cannot find field goodbye of type Query');
  });

  it('refuses a second readiness check of a name already taken (the store has event-store)', async () => {
    const error = await refusal({ store, schema, readinessChecks: [{ name: 'event-store', check: async () => {} }] });
    expect(error.field).toBe('options.readinessChecks[0].name');
  });

  it('refuses, at listen(), a schema graphql finds invalid as a whole', async () => {
    // SDL that parses but has no Query type: mercurius checks it once the app is ready.
    const service = await createService({ store, schema: 'type Mutation { go: String }', logger: 'silent' });
    await expect(service.listen({ port: 0 })).rejects.toMatchObject({ code: 'ANNALS_VALIDATION', field: 'options.schema' });
    await service.close();
  });
});
