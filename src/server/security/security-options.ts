/**
 * What `options.security` may hold, checked field by field (a ValidationError names
 * `options.security.apiKeys[1].key`, say), and the defaults (docs/security.md).
 */
import { z } from 'zod';
import { parseInput } from '../../validation.js';
import type { Principal } from '../principal.js';

/** One API key: `name` is the principal's subject (logged), `key` the secret a client sends as `Authorization: Bearer <key>`. */
export interface ApiKey {
  /** 1 to 64 letters, digits, `_`, `.` or `-`. */
  name: string;
  /** At least 16 characters of a bearer token (letters, digits, `-._~+/`, trailing `=`); `openssl rand -base64 32` makes one. */
  key: string;
  /** `writer` (mutations), `admin` (the admin schema, and what a writer may do), or the application's own. */
  roles: readonly string[];
}

/** The signing algorithms a JWT may use (the key's kind narrows them further). */
export type JwtAlgorithm = 'HS256' | 'HS384' | 'HS512' | 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';

/** JWTs checked with `@fastify/jwt`: signed with `secret` (HMAC) or with the private half of `publicKey`. */
export interface JwtOptions {
  /** The shared HMAC secret (HS256/384/512), at least 32 characters. Exactly one of `secret` and `publicKey`. */
  secret?: string;
  /** The issuer's public key, PEM (RS*, PS*, ES*, EdDSA). */
  publicKey?: string;
  /** Accepted algorithms; default: every one the key can verify. */
  algorithms?: readonly JwtAlgorithm[];
  /** The `iss` a token must have (one of them); a token without `iss` is refused when set. */
  issuer?: string | readonly string[];
  /** An `aud` a token must have (one of them); a token without `aud` is refused when set. */
  audience?: string | readonly string[];
  /**
   * The claim holding the roles, an array of strings or one space-separated string
   * (default `roles`). A claim named exactly so wins; otherwise dots walk into objects
   * (`realm_access.roles`, Keycloak's). Auth0's `https://example.com/roles` works as it is.
   */
  rolesClaim?: string;
  /** Refuse tokens without `exp` (default true): a token that never expires cannot be taken back. */
  requireExpiry?: boolean;
  /** Clock skew allowed on `exp` and `nbf`, in seconds (default 5). */
  clockToleranceSeconds?: number;
}

/** `max` operations per `windowMs`, per caller (its principal, else its address). */
export interface RateLimit {
  max: number;
  windowMs: number;
}

export interface RateLimitOptions {
  /** Mutation operations (each of a batch counts). Default 600 a minute; false: none. */
  mutations?: RateLimit | false;
  /** Query operations. Default false: reads are not limited. */
  queries?: RateLimit | false;
  /**
   * Where the counts live. `database` (the default on Postgres): a table of the event
   * store's schema, so every API process counts against the same limit. `memory` (the
   * default on PGlite, which one process holds): each process counts on its own.
   */
  store?: 'database' | 'memory';
}

export interface CorsOptions {
  /** The origins browsers may call from (`https://app.example.com`), or `'*'` for any. */
  origins: '*' | readonly string[];
  /** Send `Access-Control-Allow-Credentials` (cookies); not with `'*'`. Default false: bearer tokens need none. */
  credentials?: boolean;
  /** How long a browser may keep a preflight's answer, in seconds (default 600). */
  maxAgeSeconds?: number;
}

export interface QueryCostOptions {
  /** The largest cost accepted (default 50,000). Past it: 400 `QUERY_TOO_COMPLEX`. */
  maxCost?: number;
  /** The length assumed of a list asked for without `first` or `last` (default 20, a connection's default page). */
  defaultListSize?: number;
}

/** Checks a bearer token no API key or JWT accepted: the principal it proves, or undefined to refuse it (401). */
export type VerifyToken = (token: string) => Principal | undefined | Promise<Principal | undefined>;

/** `options.security` of createService (docs/security.md). */
export interface SecurityOptions {
  apiKeys?: readonly ApiKey[];
  jwt?: JwtOptions;
  /** Tokens of your own (opaque tokens checked with an identity provider), tried after API keys and JWTs. */
  verifyToken?: VerifyToken;
  /** Queries (and subscriptions) need a token too (any role). Default false: reads are public. */
  requireTokenForReads?: boolean;
  /**
   * DANGEROUS when true: mutations need no token at all. false: closed even without a way
   * to authenticate (principals then come only from the caller's `context` builder).
   * Default: open in development when no API key, JWT or verifyToken is configured, closed
   * otherwise; in production a service with mutations and no way to authenticate refuses
   * to start unless this is given.
   */
  openMutations?: boolean;
  /** Rate limits per caller; false turns them off. */
  rateLimit?: RateLimitOptions | false;
  /** Cross-origin access for browsers (default none: same origin only). */
  cors?: CorsOptions | false;
  /** Security headers (`@fastify/helmet`): true (default), false, or helmet's own options. */
  headers?: boolean | Readonly<Record<string, unknown>>;
  /** The query cost limit; false turns it off. */
  queryCost?: QueryCostOptions | false;
}

export const securityDefaults = {
  mutationRateLimit: { max: 600, windowMs: 60_000 },
  queryCost: { maxCost: 50_000, defaultListSize: 20 },
  rolesClaim: 'roles',
  clockToleranceSeconds: 5,
  corsMaxAgeSeconds: 600,
} as const;

const roleName = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, { error: 'must be a role name: a lowercase letter, then up to 31 lowercase letters, digits, _ or -' });

export const apiKeyNameSchema = z.string().regex(/^[\w.-]{1,64}$/, { error: 'must be 1 to 64 letters, digits, _, . or -' });
// RFC 6750's b64token: what may follow `Bearer ` in a header. ':' and ',' are not in it,
// which is what lets ANNALS_API_KEYS separate names, keys and entries with them.
export const apiKeySecretSchema = z
  .string()
  .min(16, { error: 'must be at least 16 characters (openssl rand -base64 32 makes a good one)' })
  .max(512, { error: 'must be at most 512 characters' })
  .regex(/^[A-Za-z0-9\-._~+/]+=*$/, { error: 'must be a bearer token: letters, digits, - . _ ~ + / and trailing =' });
export const rolesSchema = z.array(roleName).max(32);

const apiKeySchema = z.strictObject({ name: apiKeyNameSchema, key: apiKeySecretSchema, roles: rolesSchema });

const oneOrMore = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], { error: 'must be a string or a non-empty array of strings' });

export const jwtSecretSchema = z.string().min(32, { error: 'must be at least 32 characters: an HMAC key shorter than its hash (256 bits) is guessable' });
export const publicKeySchema = z.string().regex(/^\s*-----BEGIN [A-Z ]*PUBLIC KEY-----/, { error: 'must be a PEM public key (-----BEGIN PUBLIC KEY-----)' });
export const rolesClaimSchema = z.string().regex(/^[^\s]{1,256}$/, { error: 'must be a claim name or a dotted path to one, without spaces' });

const jwtSchema = z
  .strictObject({
    secret: jwtSecretSchema.optional(),
    publicKey: publicKeySchema.optional(),
    algorithms: z
      .array(z.enum(['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']))
      .min(1)
      .optional(),
    issuer: oneOrMore.optional(),
    audience: oneOrMore.optional(),
    rolesClaim: rolesClaimSchema.optional(),
    requireExpiry: z.boolean().optional(),
    clockToleranceSeconds: z.number().min(0).max(300).optional(),
  })
  .refine((jwt) => (jwt.secret === undefined) !== (jwt.publicKey === undefined), { error: 'needs exactly one of secret (HMAC) and publicKey (PEM)' });

const rateLimitSchema = z.union(
  [z.literal(false), z.strictObject({ max: z.number().int().min(1), windowMs: z.number().int().min(1).max(2 ** 31 - 1) })],
  { error: 'must be { max, windowMs } (positive integers) or false' },
);

export const originSchema = z
  .string()
  .regex(/^https?:\/\/[^\s/?#]+$/, { error: "must be an origin: scheme and host (and port), no path, such as 'https://app.example.com'" });

const corsSchema = z
  .strictObject({
    origins: z.union([z.literal('*'), z.array(originSchema).min(1)], { error: "must be '*' or a non-empty array of origins" }),
    credentials: z.boolean().optional(),
    maxAgeSeconds: z.number().int().min(0).max(86_400).optional(),
  })
  .refine((cors) => !(cors.credentials === true && cors.origins === '*'), { error: "credentials cannot be sent to any origin ('*'): list the origins" });

const isFunction = (value: unknown): boolean => typeof value === 'function';

const securitySchema = z.strictObject({
  apiKeys: z
    .array(apiKeySchema)
    .superRefine((keys, context) => {
      const names = new Set<string>();
      const secrets = new Set<string>();
      keys.forEach((key, index) => {
        if (names.has(key.name)) context.addIssue({ code: 'custom', path: [index, 'name'], message: `'${key.name}' names another key already` });
        // The message never quotes a secret: it could end up in a log.
        if (secrets.has(key.key)) context.addIssue({ code: 'custom', path: [index, 'key'], message: 'is the secret of another key already' });
        names.add(key.name);
        secrets.add(key.key);
      });
    })
    .optional(),
  jwt: jwtSchema.optional(),
  verifyToken: z.custom<VerifyToken>(isFunction, { error: 'must be a function (token) => principal or undefined' }).optional(),
  requireTokenForReads: z.boolean().optional(),
  openMutations: z.boolean().optional(),
  rateLimit: z
    .union(
      [
        z.literal(false),
        z.strictObject({
          mutations: rateLimitSchema.optional(),
          queries: rateLimitSchema.optional(),
          // A refinement, not z.enum: an enum's failure makes the union name only itself, not this field.
          store: z
            .string()
            .refine((store) => store === 'database' || store === 'memory', { error: "must be 'database' or 'memory'" })
            .transform((store) => store as 'database' | 'memory')
            .optional(),
        }),
      ],
      { error: 'must be { mutations, queries, store } or false' },
    )
    .optional(),
  cors: z.union([z.literal(false), corsSchema], { error: 'must be { origins } or false' }).optional(),
  headers: z.union([z.boolean(), z.record(z.string(), z.unknown())], { error: "must be true, false or helmet's options" }).optional(),
  queryCost: z
    .union([
      z.literal(false),
      z.strictObject({ maxCost: z.number().int().min(1).optional(), defaultListSize: z.number().int().min(1).max(10_000).optional() }),
    ], { error: 'must be { maxCost, defaultListSize } or false' })
    .optional(),
});

/** The options once checked, with every default filled in. */
export interface SecuritySettings {
  apiKeys: readonly ApiKey[];
  jwt: JwtOptions | undefined;
  verifyToken: VerifyToken | undefined;
  /** Some way to authenticate is configured (API keys, JWT or verifyToken). */
  authenticates: boolean;
  requireTokenForReads: boolean;
  /** As given; the default depends on the environment and the schema (register-security.ts). */
  openMutations: boolean | undefined;
  mutationRateLimit: RateLimit | undefined;
  queryRateLimit: RateLimit | undefined;
  /** As given; undefined: the database unless it is PGlite (rate-limits.ts). */
  rateLimitStore: 'database' | 'memory' | undefined;
  cors: CorsOptions | undefined;
  headers: false | Readonly<Record<string, unknown>>;
  queryCost: Required<QueryCostOptions> | undefined;
}

/**
 * Checks `options.security` and fills in the defaults.
 * @throws ValidationError naming the field (`options.security.jwt.secret`).
 */
export function checkSecurityOptions(options: SecurityOptions | undefined): SecuritySettings {
  const checked = parseInput(securitySchema, options ?? {}, 'options.security');
  const apiKeys = checked.apiKeys ?? [];
  const rateLimit = checked.rateLimit === false ? { mutations: false as const, queries: false as const, store: undefined } : (checked.rateLimit ?? {});
  return {
    apiKeys,
    jwt: checked.jwt,
    verifyToken: checked.verifyToken,
    authenticates: apiKeys.length > 0 || checked.jwt !== undefined || checked.verifyToken !== undefined,
    requireTokenForReads: checked.requireTokenForReads ?? false,
    openMutations: checked.openMutations,
    mutationRateLimit: rateLimit.mutations === false ? undefined : (rateLimit.mutations ?? securityDefaults.mutationRateLimit),
    queryRateLimit: rateLimit.queries === false ? undefined : rateLimit.queries,
    rateLimitStore: rateLimit.store,
    cors: checked.cors === false ? undefined : checked.cors,
    headers: checked.headers === false ? false : checked.headers === true || checked.headers === undefined ? {} : checked.headers,
    queryCost: checked.queryCost === false ? undefined : { ...securityDefaults.queryCost, ...checked.queryCost },
  };
}
