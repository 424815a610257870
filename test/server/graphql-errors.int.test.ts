import { describe, expect, it, onTestFinished } from 'vitest';
import {
  ConcurrencyError,
  DatabaseUnreachableError,
  DomainError,
  IdempotencyConflictError,
  SchemaNotMigratedError,
  ValidationError,
} from '../../src/index.js';
import { createTestStore } from '../setup/database.js';
import { createService } from '../../src/server/create-service.js';
import { getJson, postGraphQL, startService } from './support/http.js';

// A tiny schema whose every field throws one kind of error: what clients see of each.
const store = await createTestStore('server_errors');

class InsufficientFunds extends DomainError {
  constructor(balance: number, amount: number) {
    super('ACCOUNT_INSUFFICIENT_FUNDS', `balance ${balance} is less than ${amount}`, { balance, amount });
  }
}

const schema = `
  type Query { ok: String, invalid: String, domain: String, conflict: String, idempotency: String, notMigrated: String, unreachable: String, unknown: String, withCode: String }
  type Mutation { withdraw(amount: Int!): Int! }
`;
const resolvers = {
  Query: {
    ok: () => 'fine',
    invalid: () => {
      throw new ValidationError([
        { field: 'command.data.amount', reason: 'must be positive' },
        { field: 'command.data.accountId', reason: 'must not be empty' },
      ]);
    },
    domain: () => {
      throw new InsufficientFunds(5, 10);
    },
    conflict: () => {
      throw new ConcurrencyError('account-7', 3, 4);
    },
    idempotency: () => {
      throw new IdempotencyConflictError('account-7', '0f6c1e2a-0000-4000-8000-000000000000', 'it was appended with another payload');
    },
    notMigrated: () => {
      throw new SchemaNotMigratedError('secret_schema', 'streams');
    },
    unreachable: () => {
      throw new DatabaseUnreachableError({ host: 'db.internal', port: 5432, database: 'app', user: 'annals' }, 'refused', 'connection refused');
    },
    unknown: () => {
      throw new TypeError("Cannot read properties of undefined (reading 'password_hash')");
    },
    withCode: () => {
      throw Object.assign(new Error('the post is hidden'), { extensions: { code: 'POST_HIDDEN', postId: 'p1' } });
    },
  },
  Mutation: {
    withdraw: () => {
      throw new InsufficientFunds(5, 10);
    },
  },
};

describe.each(['development', 'production'] as const)('in %s', (environment) => {
  const production = environment === 'production';
  // The mutations here are about errors, not callers: production needs them opened on purpose (docs/security.md).
  const security = production ? { security: { openMutations: true } } : {};
  const start = () => startService({ store, schema, resolvers, environment, ...security });

  it('a ValidationError is BAD_USER_INPUT with every issue and its field path', async () => {
    const { url } = await start();
    const { status, body } = await postGraphQL(url, { query: '{ ok invalid }' });
    expect(status).toBe(200);
    expect(body.data).toEqual({ ok: 'fine', invalid: null });
    expect(body.errors).toEqual([
      {
        message: 'command.data.amount: must be positive (and 1 more)',
        locations: [{ line: 1, column: 6 }],
        path: ['invalid'],
        extensions: {
          code: 'BAD_USER_INPUT',
          issues: [
            { field: 'command.data.amount', reason: 'must be positive' },
            { field: 'command.data.accountId', reason: 'must not be empty' },
          ],
        },
      },
    ]);
  });

  it("a DomainError keeps its own code, message and details", async () => {
    const { url } = await start();
    const { status, body } = await postGraphQL(url, { query: 'mutation { withdraw(amount: 10) }' });
    // A non-null mutation field that failed: no data, but the request itself was fine.
    expect(status).toBe(200);
    expect(body).toEqual({
      data: null,
      errors: [
        {
          message: 'balance 5 is less than 10',
          locations: [{ line: 1, column: 12 }],
          path: ['withdraw'],
          extensions: { code: 'ACCOUNT_INSUFFICIENT_FUNDS', details: { balance: 5, amount: 10 } },
        },
      ],
    });
  });

  it('a ConcurrencyError left after retries is ANNALS_CONCURRENCY, marked retryable', async () => {
    const { url } = await start();
    const { body } = await postGraphQL(url, { query: '{ conflict }' });
    expect(body.errors).toEqual([
      expect.objectContaining({
        message: `stream 'account-7' is at version 4, expected 3`,
        path: ['conflict'],
        extensions: { code: 'ANNALS_CONCURRENCY', retryable: true },
      }),
    ]);
  });

  it('another AnnalsError about the request keeps its code and message, and is not retryable', async () => {
    const { url } = await start();
    const { body } = await postGraphQL(url, { query: '{ idempotency }' });
    expect(body.errors?.[0]?.extensions).toEqual({ code: 'ANNALS_IDEMPOTENCY_CONFLICT' });
    expect(body.errors?.[0]?.message).toContain('was used before');
  });

  it(`an AnnalsError for the operator keeps its code; its message ${production ? 'stays in the log' : 'is shown'}`, async () => {
    const { url } = await start();
    const { body } = await postGraphQL(url, { query: '{ notMigrated unreachable }' });
    const [notMigrated, unreachable] = body.errors ?? [];
    expect(notMigrated?.extensions).toEqual({ code: 'ANNALS_NOT_MIGRATED', requestId: expect.any(String) });
    // A refused connection passes: nothing was written, the same request can succeed later.
    expect(unreachable?.extensions).toEqual({ code: 'ANNALS_DATABASE_UNREACHABLE', retryable: true, requestId: expect.any(String) });
    if (production) {
      expect(JSON.stringify(body)).not.toMatch(/secret_schema|db\.internal/);
      expect(notMigrated?.message).toBe('the service cannot answer this now (ANNALS_NOT_MIGRATED); the server log has the details');
    } else {
      expect(notMigrated?.message).toContain('secret_schema');
      expect(unreachable?.message).toContain('db.internal:5432');
    }
  });

  it(`an unknown error is INTERNAL_SERVER_ERROR ${production ? 'with no detail and no stack' : 'with its message and stack'}`, async () => {
    const { url } = await start();
    const { status, body, headers } = await postGraphQL(url, { query: '{ unknown }' });
    expect(status).toBe(200);
    const [error] = body.errors ?? [];
    // The request id in the error is the answer's: what support asks a user for.
    expect(error?.extensions).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', requestId: headers.get('x-request-id') });
    if (production) {
      expect(error?.message).toBe('Internal server error');
      expect(error?.extensions).not.toHaveProperty('stacktrace');
      expect(JSON.stringify(body)).not.toMatch(/password_hash|TypeError|\.ts:\d+/);
    } else {
      expect(error?.message).toBe("Cannot read properties of undefined (reading 'password_hash')");
      expect(error?.extensions.stacktrace).toEqual(expect.arrayContaining([expect.stringContaining('TypeError')]));
    }
  });

  it('an error thrown with its own extensions.code reaches the client as thrown', async () => {
    const { url } = await start();
    const { body } = await postGraphQL(url, { query: '{ withCode }' });
    expect(body.errors?.[0]).toMatchObject({ message: 'the post is hidden', extensions: { code: 'POST_HIDDEN', postId: 'p1' } });
  });

  it('a query the schema does not have is GRAPHQL_VALIDATION_FAILED, a syntax error GRAPHQL_PARSE_FAILED: 400, no data', async () => {
    const { url } = await start();
    const unknownField = await postGraphQL(url, { query: '{ nope }' });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body).toEqual({
      errors: [{ message: 'Cannot query field "nope" on type "Query".', locations: [{ line: 1, column: 3 }], extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }],
    });
    const syntax = await postGraphQL(url, { query: '{ ok ' });
    expect(syntax.status).toBe(400);
    expect(syntax.body.errors).toEqual([expect.objectContaining({ extensions: { code: 'GRAPHQL_PARSE_FAILED' } })]);
  });

  it('an operationName the document lacks, or a variable not given, is GRAPHQL_VALIDATION_FAILED: 400, no data', async () => {
    const { url } = await start();
    const unknownOperation = await postGraphQL(url, { query: 'query Mine { ok }', operationName: 'Theirs' });
    expect(unknownOperation.status).toBe(400);
    expect(unknownOperation.body).toEqual({ errors: [{ message: 'Unknown operation named "Theirs".', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] });
    for (const variables of [undefined, {}]) {
      const missing = await postGraphQL(url, { query: 'mutation ($amount: Int!) { withdraw(amount: $amount) }', variables });
      expect(missing.status).toBe(400);
      expect(missing.body).toEqual({
        errors: [expect.objectContaining({ message: 'Variable "$amount" of required type "Int!" was not provided.', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })],
      });
    }
  });

  it('a context builder that throws fails the request as a whole, called once: 500, INTERNAL_SERVER_ERROR', async () => {
    let calls = 0;
    const { url } = await startService({
      ...security,
      store,
      schema,
      resolvers,
      environment,
      context: () => {
        calls++;
        throw new Error('the session store is down');
      },
    });
    const { status, body } = await postGraphQL(url, { query: '{ ok }' });
    expect(status).toBe(500);
    expect(body).toEqual({
      errors: [
        {
          message: production ? 'Internal server error' : 'the session store is down',
          extensions: expect.objectContaining({ code: 'INTERNAL_SERVER_ERROR', requestId: expect.any(String) }),
        },
      ],
    });
    expect(calls).toBe(1);
  });

  it('a mutation sent with GET is METHOD_NOT_ALLOWED (405): GET must stay safe to repeat', async () => {
    const { url } = await start();
    const response = await fetch(`${url}/graphql?query=${encodeURIComponent('mutation { withdraw(amount: 1) }')}`);
    expect(response.status).toBe(405);
    expect(await response.json()).toEqual({ errors: [expect.objectContaining({ extensions: { code: 'METHOD_NOT_ALLOWED' } })] });
  });

  it(`a route beside /graphql that fails answers fastify's JSON${production ? ', without the message' : ''}`, async () => {
    const service = await createService({ store, schema, resolvers, environment, logger: 'silent', ...security });
    onTestFinished(() => service.close());
    service.app.get('/boom', async () => {
      throw new Error('connection string postgres://admin:hunter2@db');
    });
    await service.listen({ port: 0 });
    const { status, body } = await getJson(service.url!, '/boom');
    expect(status).toBe(500);
    expect(body).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      message: production ? 'Internal server error' : 'connection string postgres://admin:hunter2@db',
    });
  });
});
