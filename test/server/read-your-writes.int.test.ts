import { randomUUID } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import { catchUpProjections, readSchemaOf, runProjections, startRebuild, type EventStore } from '../../src/index.js';
import type { ResolverContext, ServiceLimits } from '../../src/server/service-options.js';
import { createTestStore } from '../setup/database.js';
import { likeCountsProjection } from '../projections/support/like-counts.js';
import { postGraphQL, startService, type GraphQLAnswer } from './support/http.js';

// A tiny service over one like-count projection: `like` appends and returns the position,
// `likes` reads the count after waiting for the client's position (header or argument).
const store: EventStore = await createTestStore('server_ryw');

type Projection = ReturnType<typeof likeCountsProjection>;

const schema = `
  type Query { likes(postId: ID!, minPosition: String): Int! }
  type Mutation { like(postId: ID!): String! }
`;

async function serve(projection: Projection, limits: ServiceLimits = {}) {
  return startService({
    store,
    schema,
    limits,
    resolvers: {
      Query: {
        likes: async (_root: unknown, args: { postId: string; minPosition?: string | null }, context: ResolverContext) => {
          await context.readYourWrites([projection], { minPosition: args.minPosition });
          const rows = await context.store.withTransaction((tx) =>
            tx.query<{ likes: number }>(`SELECT likes FROM "${readSchemaOf(store.schema, projection)}".like_counts WHERE post_id = $1`, [args.postId]),
          );
          return rows[0]?.likes ?? 0;
        },
      },
      Mutation: {
        like: async (_root: unknown, args: { postId: string }, context: ResolverContext) => {
          const appended = await context.store.appendToStream(`post-${args.postId}`, [
            { type: 'LikeCreated', data: { postId: args.postId, userId: randomUUID() }, schemaVersion: 2 },
          ]);
          return appended.lastGlobalPosition.toString();
        },
      },
    },
  });
}

function run(projection: Projection, options: Parameters<typeof runProjections>[2] = {}) {
  const runner = runProjections(store, [projection], options);
  onTestFinished(() => runner.stop());
  return runner;
}

const unique = (prefix: string) => `${prefix}_${randomUUID().slice(0, 8)}`;

async function like(url: string, postId: string): Promise<string> {
  const { body } = await postGraphQL(url, { query: 'mutation($p: ID!) { like(postId: $p) }', variables: { p: postId } });
  expect(body.errors).toBeUndefined();
  return (body.data as { like: string }).like;
}

const likesQuery = 'query($p: ID!, $m: String) { likes(postId: $p, minPosition: $m) }';

function likes(url: string, postId: string, how: { header?: string; argument?: string } = {}) {
  return postGraphQL(
    url,
    { query: likesQuery, variables: { p: postId, m: how.argument ?? null } },
    how.header === undefined ? {} : { 'annals-min-position': how.header },
  );
}

describe('read your writes over HTTP', () => {
  it('answers a query sent with Annals-Min-Position from the read model that holds the write', async () => {
    const projection = likeCountsProjection({ name: unique('ryw_header') });
    const runner = run(projection);
    await runner.ready;
    const service = await serve(projection);
    const post = randomUUID();
    for (let count = 1; count <= 3; count++) {
      const position = await like(service.url, post);
      const { status, body } = await likes(service.url, post, { header: position });
      expect(status).toBe(200);
      expect(body).toEqual({ data: { likes: count } });
    }
  });

  it('takes the position as a minPosition argument too', async () => {
    const projection = likeCountsProjection({ name: unique('ryw_argument') });
    const runner = run(projection);
    await runner.ready;
    const service = await serve(projection);
    const post = randomUUID();
    const position = await like(service.url, post);
    const { body } = await likes(service.url, post, { argument: position });
    expect(body).toEqual({ data: { likes: 1 } });
  });

  it('refuses a malformed header as a whole with BAD_USER_INPUT naming it, and takes an empty one as none', async () => {
    const projection = likeCountsProjection({ name: unique('ryw_bad') });
    await catchUpProjections(store, [projection]);
    const service = await serve(projection);
    for (const header of ['abc', '-1', '12.5', '9223372036854775808', '0x10']) {
      const { status, body } = await likes(service.url, 'p', { header });
      expect(status, header).toBe(400);
      expect(body.data, header).toBeUndefined();
      expect(body.errors?.[0]?.extensions, header).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ field: 'Annals-Min-Position' }] });
    }
    const get = await fetch(`${service.url}/graphql?query=${encodeURIComponent('{ likes(postId: "p") }')}`, { headers: { 'annals-min-position': 'abc' } });
    expect(get.status).toBe(400);
    expect(((await get.json()) as GraphQLAnswer).errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
    const empty = await likes(service.url, 'p', { header: '' });
    expect(empty.body).toEqual({ data: { likes: 0 } });
  });

  it('answers a malformed minPosition argument with a BAD_USER_INPUT error on the field', async () => {
    const projection = likeCountsProjection({ name: unique('ryw_bad_arg') });
    await catchUpProjections(store, [projection]);
    const service = await serve(projection);
    const { status, body } = await likes(service.url, 'p', { argument: 'yesterday' });
    expect(status).toBe(200);
    expect(body.errors?.[0]).toMatchObject({ path: ['likes'], extensions: { code: 'BAD_USER_INPUT', issues: [{ field: 'minPosition' }] } });
  });

  it('answers CONSISTENCY_TIMEOUT, retryable, past limits.consistencyTimeoutMs', async () => {
    const projection = likeCountsProjection({ name: unique('ryw_timeout') });
    await catchUpProjections(store, [projection]); // no worker from here on
    const service = await serve(projection, { consistencyTimeoutMs: 400 });
    const post = randomUUID();
    const position = await like(service.url, post);
    const { status, body } = await likes(service.url, post, { header: position });
    expect(status).toBe(200);
    expect(body.errors?.[0]).toMatchObject({
      path: ['likes'],
      message: expect.stringContaining('within 400 ms'),
      extensions: { code: 'CONSISTENCY_TIMEOUT', retryable: true, position, projections: [projection.name] },
    });
  });

  it('answers CONSISTENCY_DEAD_LETTERED at once when the write was dead-lettered', async () => {
    const post = randomUUID();
    const projection = likeCountsProjection({ name: unique('ryw_dead'), failOn: (id) => id === post });
    const runner = run(projection, { retries: { attempts: 2, minDelayMs: 10, maxDelayMs: 20 } });
    await runner.ready;
    const service = await serve(projection, { consistencyTimeoutMs: 60_000 });
    const position = await like(service.url, post);
    const { body } = await likes(service.url, post, { header: position });
    expect(body.errors?.[0]?.extensions).toEqual({ code: 'CONSISTENCY_DEAD_LETTERED', position, projections: [projection.name] });
  });

  it('answers CONSISTENCY_STOPPED at once when a partition stopped before the position', async () => {
    const post = randomUUID();
    const projection = likeCountsProjection({ name: unique('ryw_stopped'), failOn: (id) => id === post });
    const runner = run(projection, { onFailure: 'stop', retries: { attempts: 2, minDelayMs: 10, maxDelayMs: 20 } });
    await runner.ready;
    const service = await serve(projection, { consistencyTimeoutMs: 60_000 });
    const position = await like(service.url, post);
    const { body } = await likes(service.url, post, { header: position });
    expect(body.errors?.[0]?.extensions).toEqual({ code: 'CONSISTENCY_STOPPED', position, projections: [projection.name] });
  });

  it('answers CONSISTENCY_REBUILDING, retryable, when only a rebuild would reach the position', async () => {
    const name = unique('ryw_rebuild');
    const v1 = likeCountsProjection({ name });
    const v2 = likeCountsProjection({ name, version: 2 });
    await catchUpProjections(store, [v1]);
    await startRebuild(store, v2); // building; no worker of either version runs
    const service = await serve(v2, { consistencyTimeoutMs: 60_000 });
    const post = randomUUID();
    const position = await like(service.url, post);
    const { body } = await likes(service.url, post, { header: position });
    expect(body.errors?.[0]?.extensions).toEqual({ code: 'CONSISTENCY_REBUILDING', retryable: true, position, projections: [name] });
  });

  it('lets many clients each read their own write, mutation then query', async () => {
    const projection = likeCountsProjection({ name: unique('ryw_load'), partitions: 2 });
    const runner = run(projection);
    await runner.ready;
    const service = await serve(projection, { consistencyTimeoutMs: 60_000 });
    const clients = 60;
    const wrong = await Promise.all(
      Array.from({ length: clients }, async () => {
        const post = randomUUID();
        const results: unknown[] = [];
        for (let count = 1; count <= 2; count++) {
          const position = await like(service.url, post);
          const { body } = await likes(service.url, post, { header: position });
          if ((body.data as { likes?: number } | null)?.likes !== count) results.push(body);
        }
        return results;
      }),
    );
    expect(wrong.flat()).toEqual([]);
  });
});
