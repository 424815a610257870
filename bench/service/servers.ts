/**
 * The servers the service figures put side by side, each run in a process of its own by
 * service-process.ts: the Annals GraphQL service with the likes parts composed, and the
 * plain fastify routes doing the same lookup with pg and the same command through the
 * store (the practical limit). Both on a pg.Pool of the same size whose work is counted
 * (work-counter.ts), so a figure can say what each request costs.
 */
import Fastify from 'fastify';
import pg from 'pg';
import type { EventStore } from '../../src/index.js';
import type { ServiceOptions } from '../../src/server/index.js';
import { quoteIdent } from '../harness.js';
import { seedReadPosts } from './likes-workload.js';
import type { LikesService } from './service-api.js';
import type { WorkCounter } from './work-counter.js';

/** A server listening on 127.0.0.1, ready for load. */
export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The bench's API key, sent as `Authorization: Bearer <key>` with every mutation: once
 * mutations need a writer's token (issue 14, section 5) the service is given this key.
 */
export const benchApiKey = 'annals-bench-writer-key-0123456789abcdef';

/**
 * Security as a production deployment of the bench would set it: the bench's key with the
 * `writer` role, and no rate limit on mutations (the figure measures how many the service
 * can take, not how many it lets one client send); security headers and the query cost
 * limit stay on, as in production (docs/security.md). The preflight (measure-servers.ts)
 * refuses to measure a server that turns the bench's mutations away.
 */
const benchSecurity = {
  apiKeys: [{ name: 'bench', key: benchApiKey, roles: ['writer'] }],
  rateLimit: false,
} satisfies ServiceOptions['security'];

/**
 * Migrates the store, seeds the read posts and catches every projection the parts read
 * up (the read figure's like counts are then in `like_counts`), then analyzes the store's
 * tables and the read models' (only those: the database may be shared).
 */
export async function setUpStore(store: EventStore, service: LikesService, posts: number, pool: pg.Pool): Promise<void> {
  await store.migrate();
  await seedReadPosts(store, posts);
  await service.annals.catchUpProjections(store, service.projections);
  const { rows } = await pool.query<{ schema: string; table: string }>(
    `SELECT schemaname AS schema, tablename AS table FROM pg_tables WHERE schemaname = $1 OR starts_with(schemaname, $1 || ':')`,
    [store.schema],
  );
  for (const { schema, table } of rows) await pool.query(`ANALYZE ${quoteIdent(schema)}.${quoteIdent(table)}`);
}

/**
 * The Annals service as `annals serve` runs it in production (no GraphiQL, no
 * introspection), logging off as the plain server's is: the likes mutations and the likes
 * projections' parts, composed.
 */
export async function startGraphQLServer(service: LikesService, store: EventStore, counter: WorkCounter): Promise<RunningServer> {
  const composed = service.server.composeSchema(service.parts);
  const app = await service.server.createService({
    store,
    ...composed,
    logger: 'silent',
    environment: 'production',
    security: benchSecurity,
  });
  counter.countRequests(app.app.server);
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
}

/**
 * The practical limit: fastify routes with no GraphQL, no read-your-writes and no
 * transaction around the read. `GET /posts/:id` runs the lookup `post(id) { likes }`
 * runs, one parameterized statement on the like-counts read schema; `POST
 * /posts/:id/likes` sends `LikePost` through `handleCommand` with the likes aggregate, as
 * the mutation's resolver does, and answers the same three fields.
 */
export async function startPlainServer(service: LikesService, store: EventStore, pool: pg.Pool, counter: WorkCounter): Promise<RunningServer> {
  const readSchema = service.annals.readSchemaOf(store.schema, service.likeCounts);
  const lookup = `SELECT likes FROM ${quoteIdent(readSchema)}.like_counts WHERE post_id = $1`;
  const app = Fastify({ logger: false });
  counter.countRequests(app.server);
  app.get<{ Params: { id: string } }>('/posts/:id', async (request) => {
    const { id } = request.params;
    const { rows } = await pool.query<{ likes: number }>(lookup, [id]);
    return { id, likes: rows[0]?.likes ?? 0 };
  });
  app.post<{ Params: { id: string }; Body: { userId: string } }>('/posts/:id/likes', async (request) => {
    const postId = request.params.id;
    const result = await service.annals.handleCommand(store, service.postLikes, postId, { type: 'LikePost', data: { postId, userId: request.body.userId } });
    return { streamId: service.postLikes.streamId(postId), version: result.nextExpectedVersion, position: String(result.globalPosition) };
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
}
