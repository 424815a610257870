import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/errors.js';
import { createService } from '../../../src/server/create-service.js';
import { createTestStore } from '../../setup/database.js';
import { postGraphQL, startService } from '../support/http.js';
import { apiKeys, bearer, counterResolvers, counterSchema, writerKey } from './support/security-fixtures.js';

// Whether mutations are open, and a production service that would leave them open by
// mistake refusing to start.
const store = await createTestStore('security_production');

describe('in production', () => {
  it('a schema with mutations and nothing to authenticate: createService refuses, naming options.security', async () => {
    const attempt = createService({ store, schema: counterSchema, resolvers: counterResolvers().resolvers, environment: 'production', logger: 'silent' });
    await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    await expect(attempt).rejects.toMatchObject({
      field: 'options.security',
      reason: expect.stringMatching(/^the schema has mutations and nothing to authenticate their callers in production: configure apiKeys \(ANNALS_API_KEYS\), jwt or verifyToken, or set openMutations: true/),
    });
  });

  it('with API keys it starts, and mutations need a writer', async () => {
    const { url } = await startService({ store, schema: counterSchema, resolvers: counterResolvers().resolvers, environment: 'production', security: { apiKeys } });
    expect((await postGraphQL(url, { query: 'mutation { like }' })).status).toBe(401);
    expect((await postGraphQL(url, { query: 'mutation { like }' }, bearer(writerKey.key))).status).toBe(200);
  });

  it('openMutations: true starts it with mutations open to anyone (and says so in the log)', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, new Writable({ write: (chunk, _encoding, done) => done(void lines.push(String(chunk))) }));
    const { url } = await startService({
      store,
      schema: counterSchema,
      resolvers: counterResolvers().resolvers,
      environment: 'production',
      security: { openMutations: true },
      logger,
    });
    expect((await postGraphQL(url, { query: 'mutation { like }' })).body).toEqual({ data: { like: 1 } });
    expect(lines.join('')).toContain('mutations are open: anyone who can reach the service can write');
  });

  it('a schema without mutations needs no keys', async () => {
    const { url } = await startService({ store, schema: 'type Query { hello: String }', resolvers: { Query: { hello: () => 'world' } }, environment: 'production' });
    expect((await postGraphQL(url, { query: '{ hello }' })).body).toEqual({ data: { hello: 'world' } });
  });

  it('openMutations: false starts it closed: only a principal from the caller’s own context may write', async () => {
    const { url } = await startService({
      store,
      schema: counterSchema,
      resolvers: counterResolvers().resolvers,
      environment: 'production',
      security: { openMutations: false },
      // Cookie sessions, say: the principal found by the application itself.
      context: (request) => (request.headers.cookie === 'session=ada' ? { principal: { subject: 'ada', roles: ['writer'], via: 'custom' } } : {}),
    });
    expect((await postGraphQL(url, { query: 'mutation { like }' })).status).toBe(401);
    expect((await postGraphQL(url, { query: 'mutation { like }' }, { cookie: 'session=ada' })).body).toEqual({ data: { like: 1 } });
  });
});

describe('in development', () => {
  it('without keys, mutations are open (npm start works with curl alone)', async () => {
    const { url } = await startService({ store, schema: counterSchema, resolvers: counterResolvers().resolvers, environment: 'development' });
    expect((await postGraphQL(url, { query: 'mutation { like }' })).body).toEqual({ data: { like: 1 } });
  });

  it('openMutations: false closes them even so', async () => {
    const { url } = await startService({ store, schema: counterSchema, resolvers: counterResolvers().resolvers, security: { openMutations: false } });
    expect((await postGraphQL(url, { query: 'mutation { like }' })).status).toBe(401);
  });

  it('with keys, mutations need a writer there too', async () => {
    const { url } = await startService({ store, schema: counterSchema, resolvers: counterResolvers().resolvers, security: { apiKeys } });
    expect((await postGraphQL(url, { query: 'mutation { like }' })).status).toBe(401);
  });
});

describe('options.security', () => {
  it('is checked field by field', async () => {
    const attempt = (security: unknown) =>
      createService({ store, schema: counterSchema, resolvers: counterResolvers().resolvers, logger: 'silent', security: security as never });
    await expect(attempt({ apiKeys: [{ name: 'ci', key: 'short', roles: ['writer'] }] })).rejects.toMatchObject({
      field: 'options.security.apiKeys[0].key',
      reason: 'must be at least 16 characters (openssl rand -base64 32 makes a good one)',
    });
    await expect(attempt({ apiKeys: [writerKey, { ...writerKey, name: 'copy' }] })).rejects.toMatchObject({
      field: 'options.security.apiKeys[1].key',
      reason: 'is the secret of another key already',
    });
    await expect(attempt({ apiKeys: [{ ...writerKey, roles: ['Writer'] }] })).rejects.toMatchObject({ field: 'options.security.apiKeys[0].roles[0]' });
    await expect(attempt({ rateLimit: { mutations: { max: 0, windowMs: 1000 } } })).rejects.toMatchObject({ field: 'options.security.rateLimit.mutations.max', reason: expect.stringContaining('>=1') });
    await expect(attempt({ queryCost: { maxCost: -1 } })).rejects.toMatchObject({ field: 'options.security.queryCost.maxCost' });
    await expect(attempt({ apiKey: [] })).rejects.toMatchObject({ field: 'options.security', reason: expect.stringContaining('apiKey') });
  });
});
