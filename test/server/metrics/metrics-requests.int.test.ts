import { describe, expect, it } from 'vitest';
import { Counter } from 'prom-client';
import { ValidationError } from '../../../src/errors.js';
import { createService } from '../../../src/server/create-service.js';
import { countAppendedEvents, metricsRegistry, trackSubscription } from '../../../src/server/metrics/service-metrics.js';
import { graphql, likesService } from '../../graphql/support/likes-service.js';
import { postGraphQL, startService } from '../support/http.js';
import { samplesOf, scrape, valueOf } from './support/scrape.js';

const likes = await likesService('metrics_requests');

const like = `mutation Like($postId: ID!, $userId: ID!) { likePost(postId: $postId, userId: $userId) { position } }`;
const operations = 'annals_graphql_operation_duration_seconds_count';
const requests = 'annals_http_request_duration_seconds_count';

describe('/metrics after real requests', () => {
  it('counts GraphQL operations by name, type and outcome, and HTTP requests by route and status', async () => {
    const url = await likes.start();
    await graphql(url, like, { postId: 'r1', userId: 'ada' });
    await graphql(url, like, { postId: 'r1', userId: 'grace' });
    // A domain error: the operation ran, its result has an error.
    await graphql(url, like, { postId: 'r1', userId: 'ada' });
    await likes.catchUp();
    await graphql(url, `query PostLikes { post(id: "r1") { likes } }`);
    await graphql(url, `{ post(id: "r1") { id } }`);
    // Refused before any operation ran: HTTP only.
    expect((await graphql(url, `{ post(id: `)).status).toBe(400);
    expect((await fetch(`${url}/no/such/route`)).status).toBe(404);
    await fetch(`${url}/healthz`);

    const metrics = await scrape(url);
    expect(metrics.status).toBe(200);
    expect(metrics.contentType).toContain('text/plain');
    expect(valueOf(metrics, operations, { operation_name: 'Like', operation_type: 'mutation', outcome: 'success' })).toBe(2);
    expect(valueOf(metrics, operations, { operation_name: 'Like', operation_type: 'mutation', outcome: 'error' })).toBe(1);
    expect(valueOf(metrics, operations, { operation_name: 'PostLikes', operation_type: 'query', outcome: 'success' })).toBe(1);
    expect(valueOf(metrics, operations, { operation_name: '__anonymous', operation_type: 'query', outcome: 'success' })).toBe(1);
    expect(samplesOf(metrics, operations).reduce((sum, s) => sum + s.value, 0)).toBe(5);
    expect(valueOf(metrics, requests, { method: 'POST', route: '/graphql', status_code: '200' })).toBe(5);
    expect(valueOf(metrics, requests, { method: 'POST', route: '/graphql', status_code: '400' })).toBe(1);
    expect(valueOf(metrics, requests, { method: 'GET', route: '__unmatched', status_code: '404' })).toBe(1);
    expect(valueOf(metrics, requests, { method: 'GET', route: '/healthz', status_code: '200' })).toBe(1);
    // Latency: every operation falls in the +Inf bucket, and took some time.
    const bucket = valueOf(metrics, 'annals_graphql_operation_duration_seconds_bucket', { operation_name: 'Like', outcome: 'success', le: '+Inf' });
    expect(bucket).toBe(2);
    expect(valueOf(metrics, 'annals_graphql_operation_duration_seconds_sum', { operation_name: 'Like', outcome: 'success' })).toBeGreaterThan(0);
    // Node's process metrics beside the service's.
    expect(valueOf(metrics, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(samplesOf(metrics, 'nodejs_eventloop_lag_seconds')).toHaveLength(1);
  });

  it('counts each operation of a batch, and operations sent with GET', async () => {
    const { url } = await startService({ store: likes.store, ...likes.composed, limits: { maxBatchedQueries: 5 } });
    const batch = await postGraphQL<unknown[]>(url, [
      { query: `query One { post(id: "b1") { id } }`, operationName: 'One' },
      { query: `query Two { post(id: "b1") { id } } query Three { post(id: "b1") { id } }`, operationName: 'Three' },
    ]);
    expect(batch.status).toBe(200);
    const get = await fetch(`${url}/graphql?query=${encodeURIComponent('query ByGet { post(id: "b1") { id } }')}`);
    expect(get.status).toBe(200);
    const metrics = await scrape(url);
    for (const name of ['One', 'Three', 'ByGet']) expect(valueOf(metrics, operations, { operation_name: name, outcome: 'success' })).toBe(1);
    expect(valueOf(metrics, operations, { operation_name: 'Two' })).toBeUndefined();
  });

  it('counts each operation of a batch with its own outcome: one failing, one not', async () => {
    const { url } = await startService({
      store: likes.store,
      schema: 'type Query { ok: Boolean! broken: Boolean }',
      resolvers: {
        Query: {
          ok: () => true,
          broken: () => {
            throw new Error('broken on purpose');
          },
        },
      },
      limits: { maxBatchedQueries: 5 },
    });
    const batch = await postGraphQL<{ errors?: unknown[] }[]>(url, [
      { query: 'query Fine { ok }', operationName: 'Fine' },
      { query: 'query Failing { broken }', operationName: 'Failing' },
    ]);
    expect(batch.status).toBe(200);
    expect(batch.body[1]?.errors).toHaveLength(1);
    const metrics = await scrape(url);
    expect(valueOf(metrics, operations, { operation_name: 'Fine', outcome: 'success' })).toBe(1);
    expect(valueOf(metrics, operations, { operation_name: 'Fine', outcome: 'error' })).toBeUndefined();
    expect(valueOf(metrics, operations, { operation_name: 'Failing', outcome: 'error' })).toBe(1);
    expect(valueOf(metrics, operations, { operation_name: 'Failing', outcome: 'success' })).toBeUndefined();
    expect(valueOf(metrics, requests, { method: 'POST', route: '/graphql', status_code: '200' })).toBe(1);
  });

  it('labels one document sent again under each of its names, and again after an error (labels are kept per document)', async () => {
    const { url } = await startService({ store: likes.store, ...likes.composed });
    const document = `query First { post(id: "d1") { id } } mutation Second($postId: ID!, $userId: ID!) { likePost(postId: $postId, userId: $userId) { position } }`;
    const send = (operationName: string, variables?: Record<string, unknown>) => postGraphQL(url, { query: document, operationName, variables });
    for (const name of ['First', 'First']) expect((await send(name)).status).toBe(200);
    expect((await send('Second', { postId: 'd1', userId: 'ada' })).status).toBe(200);
    // The same like again: a domain error, the same document and name.
    await send('Second', { postId: 'd1', userId: 'ada' });
    // A name the document does not define: execution refuses it, no operation is counted.
    await send('Third');
    await send('First');
    const metrics = await scrape(url);
    expect(valueOf(metrics, operations, { operation_name: 'First', operation_type: 'query', outcome: 'success' })).toBe(3);
    expect(valueOf(metrics, operations, { operation_name: 'Second', operation_type: 'mutation', outcome: 'success' })).toBe(1);
    expect(valueOf(metrics, operations, { operation_name: 'Second', operation_type: 'mutation', outcome: 'error' })).toBe(1);
    expect(valueOf(metrics, operations, { operation_name: 'Third' })).toBeUndefined();
    expect(samplesOf(metrics, operations).reduce((sum, s) => sum + s.value, 0)).toBe(5);
  });

  it('keeps at most maxOperationNames names: the next ones count as __other', async () => {
    const { url } = await startService({ store: likes.store, ...likes.composed, metrics: { maxOperationNames: 2 } });
    for (const name of ['A', 'B', 'C', 'D', 'A']) await graphql(url, `query ${name} { post(id: "n1") { id } }`);
    // Sent again (mercurius' cached document, its labels kept): still counted under the same labels.
    for (const name of ['C', 'B']) await graphql(url, `query ${name} { post(id: "n1") { id } }`);
    // A document naming B and C, run as either: B keeps its name, C is still __other.
    const both = `query B { post(id: "n1") { id } } query C { post(id: "n1") { id } }`;
    for (const operationName of ['B', 'C']) await postGraphQL(url, { query: both, operationName });
    const metrics = await scrape(url);
    expect(valueOf(metrics, operations, { operation_name: 'A' })).toBe(2);
    expect(valueOf(metrics, operations, { operation_name: 'B' })).toBe(3);
    expect(valueOf(metrics, operations, { operation_name: '__other' })).toBe(4);
    expect(samplesOf(metrics, operations)).toHaveLength(3);
  });

  it('serves each service its own registry: two services in one process count apart', async () => {
    const one = await startService({ store: likes.store, ...likes.composed });
    const two = await startService({ store: likes.store, ...likes.composed });
    expect(metricsRegistry(one.app)).not.toBe(metricsRegistry(two.app));
    await Promise.all([1, 2, 3].map((i) => graphql(one.url, `query OnOne { post(id: "t${i}") { id } }`)));
    await graphql(two.url, `query OnTwo { post(id: "t1") { id } }`);
    const [first, second] = await Promise.all([scrape(one.url), scrape(two.url)]);
    expect(valueOf(first, operations, { operation_name: 'OnOne' })).toBe(3);
    expect(valueOf(first, operations, { operation_name: 'OnTwo' })).toBeUndefined();
    expect(valueOf(second, operations, { operation_name: 'OnTwo' })).toBe(1);
    expect(valueOf(second, operations, { operation_name: 'OnOne' })).toBeUndefined();
    // Node's process metrics are the process's: both serve them.
    expect(valueOf(first, 'process_start_time_seconds')).toBe(valueOf(second, 'process_start_time_seconds'));
  });
});

describe('what other parts of the service count', () => {
  it('subscriptions, open and ended by reason, through any instance of the app', async () => {
    const service = await startService({ store: likes.store, ...likes.composed });
    const first = trackSubscription(service.app, 'postLikes');
    const second = trackSubscription(service.app, 'postLikes');
    trackSubscription(service.app, 'accountBalance');
    let metrics = await scrape(service.url);
    expect(valueOf(metrics, 'annals_graphql_subscriptions', { field: 'postLikes' })).toBe(2);
    expect(valueOf(metrics, 'annals_graphql_subscriptions', { field: 'accountBalance' })).toBe(1);
    first.end('client-gone');
    first.end('completed'); // once only
    second.end('dropped');
    metrics = await scrape(service.url);
    expect(valueOf(metrics, 'annals_graphql_subscriptions', { field: 'postLikes' })).toBe(0);
    expect(valueOf(metrics, 'annals_graphql_subscriptions_ended_total', { field: 'postLikes', reason: 'client-gone' })).toBe(1);
    expect(valueOf(metrics, 'annals_graphql_subscriptions_ended_total', { field: 'postLikes', reason: 'dropped' })).toBe(1);
    expect(valueOf(metrics, 'annals_graphql_subscriptions_ended_total', { field: 'postLikes', reason: 'completed' })).toBeUndefined();
  });

  it("events a mutation appended, counted from a resolver's context.app, and metrics of the caller's own", async () => {
    const service = await startService({
      store: likes.store,
      schema: 'type Query { ok: Boolean! } type Mutation { record(count: Int!): Boolean! }',
      resolvers: {
        Query: { ok: () => true },
        Mutation: {
          record: (_root: unknown, { count }: { count: number }, context: { app: Parameters<typeof countAppendedEvents>[0] }) => {
            countAppendedEvents(context.app, 'post', count);
            return true;
          },
        },
      },
    });
    const checkouts = new Counter({ name: 'shop_checkouts_total', help: 'Checkouts.', registers: [metricsRegistry(service.app)!] });
    checkouts.inc(3);
    await postGraphQL(service.url, { query: 'mutation { a: record(count: 2) b: record(count: 0) }' });
    await postGraphQL(service.url, { query: 'mutation { record(count: 5) }' });
    const metrics = await scrape(service.url);
    expect(valueOf(metrics, 'annals_events_appended_total', { category: 'post' })).toBe(7);
    expect(valueOf(metrics, 'shop_checkouts_total')).toBe(3);
  });

  it('with metrics off, /metrics is not served and counting does nothing', async () => {
    const service = await startService({ store: likes.store, ...likes.composed, metrics: false });
    expect(metricsRegistry(service.app)).toBeUndefined();
    trackSubscription(service.app, 'postLikes').end('completed');
    countAppendedEvents(service.app, 'post', 1);
    expect((await scrape(service.url)).status).toBe(404);
  });
});

describe('access and options', () => {
  it("access: 'admin' refuses a scrape without a bearer token (UNAUTHENTICATED), on the path chosen", async () => {
    const { url } = await startService({ store: likes.store, ...likes.composed, metrics: { access: 'admin', path: '/ops/metrics' } });
    const refused = await fetch(`${url}/ops/metrics`);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ statusCode: 401, code: 'UNAUTHENTICATED' });
    expect((await fetch(`${url}/metrics`)).status).toBe(404);
  });

  it("access: 'admin' with API keys: an admin's key reads the metrics, a writer's is FORBIDDEN, a wrong one UNAUTHENTICATED", async () => {
    const { url } = await startService({
      store: likes.store,
      ...likes.composed,
      metrics: { access: 'admin' },
      security: {
        apiKeys: [
          { name: 'prometheus', key: 'metrics-reader-key-0123456789', roles: ['admin'] },
          { name: 'shop', key: 'shop-writer-key-0123456789', roles: ['writer'] },
        ],
      },
    });
    const read = await scrape(url, { authorization: 'Bearer metrics-reader-key-0123456789' });
    expect(read.status).toBe(200);
    expect(valueOf(read, 'annals_log_head_position')).toBeGreaterThanOrEqual(0);
    const writer = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer shop-writer-key-0123456789' } });
    expect(writer.status).toBe(403);
    expect(await writer.json()).toMatchObject({ code: 'FORBIDDEN' });
    const wrong = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer not-a-key-of-this-service' } });
    expect(wrong.status).toBe(401);
  });

  it('bad options are refused at creation, naming the option and the reason', async () => {
    const attempt = (metrics: unknown) => createService({ store: likes.store, ...likes.composed, logger: 'silent', metrics: metrics as never });
    const cases: [unknown, string, RegExp][] = [
      [{ access: 'public' }, 'options.metrics.access', /open|admin/],
      [{ path: 'metrics' }, 'options.metrics.path', /starting with \//],
      [{ latencyBuckets: [1, 0.5] }, 'options.metrics.latencyBuckets', /increasing/],
      [{ maxOperationNames: -1 }, 'options.metrics.maxOperationNames', />=0|too small/i],
      [{ projections: [{ name: 'x' }] }, 'options.metrics.projections[0]', /defineProjection/],
      [{ scrapeEvery: 5 }, 'options.metrics', /scrapeEvery/],
      ['yes', 'options.metrics', /object/],
    ];
    for (const [metrics, field, reason] of cases) {
      const error = await attempt(metrics).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error, JSON.stringify(metrics)).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues, JSON.stringify(metrics)).toEqual([{ field, reason: expect.stringMatching(reason) }]);
    }
  });
});
