/**
 * What the security tests share: keys, JWTs signed here with node:crypto (not with the
 * library under test), and a small schema with a mutation, a paginated list and an admin
 * field, over a store of the test file's own.
 */
import { createHmac, createSign, generateKeyPairSync } from 'node:crypto';
import type { ServiceContext } from '../../../../src/server/service-options.js';
import { requireRole, Roles } from '../../../../src/server/principal.js';
import type { ApiKey } from '../../../../src/server/security/security-options.js';
import { ValidationError } from '../../../../src/errors.js';

export const writerKey: ApiKey = { name: 'ci-writer', key: 'd3JpdGVyLWtleS1mb3ItdGVzdHMtb25seQ', roles: [Roles.writer] };
export const adminKey: ApiKey = { name: 'ops-admin', key: 'YWRtaW4ta2V5LWZvci10ZXN0cy1vbmx5IQ', roles: [Roles.admin] };
export const readerKey: ApiKey = { name: 'dashboard', key: 'cmVhZGVyLWtleS1mb3ItdGVzdHMtb25seQ', roles: ['reader'] };
export const apiKeys = [writerKey, adminKey, readerKey];

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export const jwtSecret = 'a-shared-hmac-secret-of-at-least-32-characters';

export const rsa = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

const base64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

/** A JWT signed with HS256 and `secret`, or RS256 and `privateKey`; `alg` may be forced (to 'none', say). */
export function signJwt(
  claims: Record<string, unknown>,
  key: { secret: string } | { privateKey: string } = { secret: jwtSecret },
  header: Record<string, unknown> = {},
): string {
  const alg = 'secret' in key ? 'HS256' : 'RS256';
  const input = `${base64url(JSON.stringify({ alg, typ: 'JWT', ...header }))}.${base64url(JSON.stringify(claims))}`;
  if (header.alg === 'none') return `${input}.`;
  const signature =
    'secret' in key
      ? createHmac('sha256', key.secret).update(input).digest('base64url')
      : createSign('RSA-SHA256').update(input).sign(key.privateKey, 'base64url');
  return `${input}.${signature}`;
}

/** Now, in seconds, as JWT claims count time; `offset` seconds away. */
export const epoch = (offset = 0) => Math.floor(Date.now() / 1000) + offset;

/**
 * A schema of a counter: `like` increments it (a mutation), `likes` reads it, `posts`
 * is a connection-shaped list (for the cost), `auditLog` is admin only.
 */
export const counterSchema = `
  type Query {
    likes: Int!
    whoami: String
    posts(first: Int): PostConnection!
    auditLog: [String!]!
  }
  type Mutation { like: Int! }
  type PostConnection { edges: [PostEdge!]! }
  type PostEdge { node: Post! }
  type Post { id: ID!, likedBy(first: Int): PostConnection! }
`;

export function counterResolvers() {
  let likes = 0;
  const page = (first: number | null | undefined) => ({
    edges: Array.from({ length: Math.min(first ?? 2, 3) }, (_, index) => ({ node: { id: String(index) } })),
  });
  return {
    resolvers: {
      Query: {
        likes: () => likes,
        whoami: (_root: unknown, _args: unknown, context: ServiceContext) => context.principal?.subject ?? null,
        posts: (_root: unknown, args: { first?: number | null }) => page(args.first),
        auditLog: (_root: unknown, _args: unknown, context: ServiceContext) => {
          requireRole(context, Roles.admin);
          return ['rebuilt like-counts'];
        },
      },
      Mutation: { like: () => ++likes },
      Post: { likedBy: (_post: unknown, args: { first?: number | null }) => page(args.first) },
    },
    likes: () => likes,
  };
}

/** The ValidationError `read` throws, for its issues. */
export function failure(read: () => unknown): ValidationError {
  try {
    read();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError');
}
