/**
 * Variants of the GraphQL server for `read-cost.ts`, each one piece lighter than the one
 * before, so that the read's cost can be taken apart: what the security headers, the
 * metrics, the transaction around the read, kysely and the service's own hooks each add
 * to `post(id) { id likes }`, down to mercurius alone with one pg query.
 */
import Fastify from 'fastify';
import { sql, type Kysely } from 'kysely';
import mercurius from 'mercurius';
import type pg from 'pg';
import type { EventStore } from '../../src/index.js';
import type { ServiceOptions } from '../../src/server/index.js';
import { quoteIdent } from '../harness.js';
import { benchApiKey, type RunningServer } from './servers.js';
import type { LikesService } from './service-api.js';
import type { WorkCounter } from './work-counter.js';

export const readVariants = {
  'as shipped': 'createService as the figures run it (servers.ts)',
  'no security headers': 'security.headers: false',
  'no metrics': 'metrics: false',
  lean: 'security headers, metrics and the query cost limit off',
  'lean, kysely transaction': 'lean; the like count read in a kysely transaction of its own, not store.withTransaction',
  'lean, kysely': 'lean; the like count read with kysely, no transaction',
  'lean, pool': 'lean; the like count read with one pool.query, no kysely',
  'mercurius alone': 'fastify and mercurius only: the same schema, a resolver with one pool.query',
} as const;

export type ReadVariant = keyof typeof readVariants;

type Row = { post_id: string; likes: number };
type Read = (ids: string[]) => Promise<Row[]>;

const key = { apiKeys: [{ name: 'bench', key: benchApiKey, roles: ['writer'] }], rateLimit: false } as const;
const lean = { metrics: false, security: { ...key, headers: false, queryCost: false } } satisfies Partial<ServiceOptions>;

/** The like-counts part with its loader reading through `read` instead of readModel. */
function likeCountsPart(service: LikesService, read: Read) {
  return service.server.graphqlPart({
    name: 'like-counts',
    typeDefs: 'type Post {\n  id: ID!\n  likes: Int!\n}\n\nextend type Query {\n  post(id: ID!): Post\n}',
    resolvers: { Query: { post: (_root: unknown, { id }: { id: string }) => ({ id }) } },
    loaders: {
      Post: {
        likes: async (queries: readonly { obj: { id: string } }[]) => {
          const likes = new Map((await read([...new Set(queries.map((query) => query.obj.id))])).map((row) => [row.post_id, row.likes]));
          return queries.map((query) => likes.get(query.obj.id) ?? 0);
        },
      },
    },
  });
}

export async function startReadVariant(
  variant: ReadVariant,
  setup: { service: LikesService; store: EventStore; pool: pg.Pool; counter: WorkCounter; db: Kysely<{ like_counts: Row }> },
): Promise<RunningServer> {
  const { service, store, pool, counter, db } = setup;
  const readSchema = service.annals.readSchemaOf(store.schema, service.likeCounts);
  const lookup = `SELECT post_id, likes FROM ${quoteIdent(readSchema)}.like_counts WHERE post_id = any($1::text[])`;
  const reads: Record<'kysely transaction' | 'kysely' | 'pool', Read> = {
    'kysely transaction': (ids) => db.transaction().execute((tx) => tx.withSchema(readSchema).selectFrom('like_counts').select(['post_id', 'likes']).where('post_id', '=', sql<string>`any(${ids}::text[])`).execute()),
    kysely: (ids) => db.withSchema(readSchema).selectFrom('like_counts').select(['post_id', 'likes']).where('post_id', '=', sql<string>`any(${ids}::text[])`).execute(),
    pool: async (ids) => (await pool.query<Row>(lookup, [ids])).rows,
  };
  if (variant === 'mercurius alone') {
    const app = Fastify({ logger: false });
    counter.countRequests(app.server);
    app.register(mercurius, {
      schema: 'type Post { id: ID! likes: Int! } type Query { post(id: ID!): Post }',
      resolvers: { Query: { post: async (_root: unknown, { id }: { id: string }) => ({ id, likes: (await reads.pool([id]))[0]?.likes ?? 0 }) } },
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return { url, close: () => app.close() };
  }
  const others = service.parts.filter((part) => part.name !== 'like-counts');
  const [parts, options] = ((): [typeof service.parts, Partial<ServiceOptions>] => {
    switch (variant) {
      case 'as shipped':
        return [service.parts, { security: key }];
      case 'no security headers':
        return [service.parts, { security: { ...key, headers: false } }];
      case 'no metrics':
        return [service.parts, { security: key, metrics: false }];
      case 'lean':
        return [service.parts, lean];
      case 'lean, kysely transaction':
        return [[...others, likeCountsPart(service, reads['kysely transaction'])], lean];
      case 'lean, kysely':
        return [[...others, likeCountsPart(service, reads.kysely)], lean];
      case 'lean, pool':
        return [[...others, likeCountsPart(service, reads.pool)], lean];
    }
  })();
  const app = await service.server.createService({ store, ...service.server.composeSchema(parts), logger: 'silent', environment: 'production', ...options });
  counter.countRequests(app.app.server);
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
}
