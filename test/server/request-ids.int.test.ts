import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ServiceContext } from '../../src/server/service-options.js';
import { createTestStore } from '../setup/database.js';
import { postGraphQL, startService } from './support/http.js';

// The ids later work stamps on appended events (correlationId, causationId) start here.
const store = await createTestStore('server_request_ids');

const schema = 'type Query { ids: Ids } type Ids { requestId: String, correlationId: String, tenant: String, sameStore: Boolean }';
const resolvers = {
  Query: {
    ids: (_root: unknown, _args: unknown, context: ServiceContext & { tenant?: string }) => {
      context.log.info('resolving ids');
      return { requestId: context.requestId, correlationId: context.correlationId, tenant: context.tenant, sameStore: context.store === store };
    },
  },
};
const query = { query: '{ ids { requestId correlationId tenant sameStore } }' };

/** A pino logger whose lines the test reads. */
function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, destination), lines };
}

describe('request ids', () => {
  it('a request without ids gets a new UUID, echoed in x-request-id, which is also its correlation id', async () => {
    const { url } = await startService({ store, schema, resolvers });
    const { body, headers } = await postGraphQL(url, query);
    const requestId = headers.get('x-request-id');
    expect(requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(body.data).toEqual({ ids: { requestId, correlationId: requestId, tenant: null, sameStore: true } });
  });

  it("keeps a proxy's x-request-id and a caller's x-correlation-id", async () => {
    const { url } = await startService({ store, schema, resolvers });
    const { body, headers } = await postGraphQL(url, query, { 'x-request-id': 'edge-42', 'x-correlation-id': 'checkout-7' });
    expect(headers.get('x-request-id')).toBe('edge-42');
    expect(body.data).toEqual({ ids: { requestId: 'edge-42', correlationId: 'checkout-7', tenant: null, sameStore: true } });
  });

  it('drops ids that are not 1 to 128 visible ASCII characters', async () => {
    const { url } = await startService({ store, schema, resolvers });
    const { body, headers } = await postGraphQL(url, query, { 'x-request-id': 'x'.repeat(129), 'x-correlation-id': 'has space' });
    const requestId = headers.get('x-request-id');
    expect(requestId).not.toBe('x'.repeat(129));
    expect(body.data).toEqual({ ids: { requestId, correlationId: requestId, tenant: null, sameStore: true } });
  });

  it('the context builder adds to the base context, which it is given', async () => {
    const { url } = await startService({
      store,
      schema,
      resolvers,
      context: (request, base) => ({ tenant: `${String(request.headers['x-tenant'])} (for ${base.requestId})` }),
    });
    const { body } = await postGraphQL(url, query, { 'x-tenant': 'acme', 'x-request-id': 'r-1' });
    expect(body.data).toEqual({ ids: { requestId: 'r-1', correlationId: 'r-1', tenant: 'acme (for r-1)', sameStore: true } });
  });

  it("logs every line of a request with its request id and the caller's correlation id", async () => {
    const { logger, lines } = capturedLogger();
    const { url } = await startService({ store, schema, resolvers, logger });
    await postGraphQL(url, query, { 'x-request-id': 'req-log-1', 'x-correlation-id': 'corr-log-1' });
    const ofRequest = lines.filter((line) => line.requestId === 'req-log-1');
    expect(ofRequest.map((line) => line.msg)).toEqual(expect.arrayContaining(['incoming request', 'resolving ids', 'request completed']));
    for (const line of ofRequest) expect(line.correlationId).toBe('corr-log-1');
  });
});
