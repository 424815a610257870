import type { ValidationIssue } from '../../errors.js';
import { ValidationError } from '../../errors.js';
import { apiKeysFromEnvironment } from './api-keys.js';
import { jwtSecretSchema, originSchema, publicKeySchema, rolesClaimSchema, type JwtOptions, type SecurityOptions } from './security-options.js';

type Environment = Readonly<Record<string, string | undefined>>;

/**
 * `options.security` from the environment, for `annals serve` and `npm start` (each
 * variable in docs/security.md):
 *
 * - `ANNALS_API_KEYS`: `name:key` or `name:key:role+role`, comma separated;
 * - `ANNALS_JWT_SECRET` or `ANNALS_JWT_PUBLIC_KEY` (PEM; `\n` may stand for newlines),
 *   `ANNALS_JWT_ISSUER`, `ANNALS_JWT_AUDIENCE` (comma separated), `ANNALS_JWT_ROLES_CLAIM`;
 * - `ANNALS_REQUIRE_TOKEN_FOR_READS`, `ANNALS_OPEN_MUTATIONS`: `true` or `false`;
 * - `ANNALS_CORS_ORIGINS`: `*` or origins, comma separated;
 * - `ANNALS_MUTATION_RATE_LIMIT`: `600/1m` (max per window: `ms`, `s`, `m`, `h`) or `off`;
 * - `ANNALS_RATE_LIMIT_STORE`: `database` or `memory` (where the counts live).
 *
 * Only what is set appears in the result; an empty variable counts as unset.
 *
 * @throws ValidationError whose fields are the variables at fault, each with the reason
 * (a key is never quoted).
 *
 * @example
 * ```ts
 * // ANNALS_API_KEYS=ci:Zm9vYmFyYmF6cXV4cXV1eA:writer ANNALS_CORS_ORIGINS=https://app.example.com
 * const service = await createService({ store, ...composed, security: securityFromEnvironment(process.env) });
 * ```
 */
export function securityFromEnvironment(env: Environment = process.env): SecurityOptions {
  const issues: ValidationIssue[] = [];
  const value = (name: string): string | undefined => {
    const raw = env[name]?.trim();
    return raw === undefined || raw === '' ? undefined : raw;
  };
  const check = <T>(read: () => T): T | undefined => {
    try {
      return read();
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      issues.push(...error.issues);
      return undefined;
    }
  };
  const refuse = (field: string, reason: string): never => {
    throw new ValidationError([{ field, reason }]);
  };

  const options: SecurityOptions = {};
  const apiKeys = check(() => apiKeysFromEnvironment(value('ANNALS_API_KEYS')));
  if (apiKeys !== undefined && apiKeys.length > 0) options.apiKeys = apiKeys;
  const jwt = check(() => jwtFromEnvironment(value, refuse));
  if (jwt !== undefined) options.jwt = jwt;
  const reads = check(() => flag('ANNALS_REQUIRE_TOKEN_FOR_READS', value('ANNALS_REQUIRE_TOKEN_FOR_READS'), refuse));
  if (reads !== undefined) options.requireTokenForReads = reads;
  const open = check(() => flag('ANNALS_OPEN_MUTATIONS', value('ANNALS_OPEN_MUTATIONS'), refuse));
  if (open !== undefined) options.openMutations = open;
  const origins = check(() => originsFromEnvironment(value('ANNALS_CORS_ORIGINS'), refuse));
  if (origins !== undefined) options.cors = { origins };
  const limit = check(() => rateLimitFromEnvironment(value('ANNALS_MUTATION_RATE_LIMIT'), refuse));
  const limitStore = check(() => rateLimitStoreFromEnvironment(value('ANNALS_RATE_LIMIT_STORE'), refuse));
  if (limit !== undefined || limitStore !== undefined) {
    options.rateLimit = { ...(limit !== undefined ? { mutations: limit } : {}), ...(limitStore !== undefined ? { store: limitStore } : {}) };
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return options;
}

type Refuse = (field: string, reason: string) => never;

function jwtFromEnvironment(value: (name: string) => string | undefined, refuse: Refuse): JwtOptions | undefined {
  const secret = value('ANNALS_JWT_SECRET');
  const publicKey = value('ANNALS_JWT_PUBLIC_KEY')?.replace(/\\n/g, '\n');
  const issuer = list(value('ANNALS_JWT_ISSUER'));
  const audience = list(value('ANNALS_JWT_AUDIENCE'));
  const rolesClaim = value('ANNALS_JWT_ROLES_CLAIM');
  if (secret === undefined && publicKey === undefined) {
    const stray = [['ANNALS_JWT_ISSUER', issuer], ['ANNALS_JWT_AUDIENCE', audience], ['ANNALS_JWT_ROLES_CLAIM', rolesClaim]].find(([, set]) => set !== undefined);
    if (stray) refuse(stray[0] as string, 'is set, but neither ANNALS_JWT_SECRET nor ANNALS_JWT_PUBLIC_KEY: JWTs cannot be checked without one');
    return undefined;
  }
  if (secret !== undefined && publicKey !== undefined) refuse('ANNALS_JWT_SECRET', 'is set with ANNALS_JWT_PUBLIC_KEY: give one (a shared secret, or the issuer\'s public key)');
  if (secret !== undefined) {
    const checked = jwtSecretSchema.safeParse(secret);
    if (!checked.success) refuse('ANNALS_JWT_SECRET', checked.error.issues[0]?.message ?? 'is malformed');
  }
  if (publicKey !== undefined && !publicKeySchema.safeParse(publicKey).success) {
    refuse('ANNALS_JWT_PUBLIC_KEY', 'must be a PEM public key (-----BEGIN PUBLIC KEY-----; \\n may stand for newlines)');
  }
  if (rolesClaim !== undefined && !rolesClaimSchema.safeParse(rolesClaim).success) refuse('ANNALS_JWT_ROLES_CLAIM', 'must be a claim name or a dotted path to one, without spaces');
  return {
    ...(secret !== undefined ? { secret } : { publicKey: publicKey as string }),
    ...(issuer ? { issuer } : {}),
    ...(audience ? { audience } : {}),
    ...(rolesClaim ? { rolesClaim } : {}),
  };
}

function list(value: string | undefined): string[] | undefined {
  const items = value?.split(',').map((item) => item.trim()).filter((item) => item !== '');
  return items === undefined || items.length === 0 ? undefined : items;
}

function flag(name: string, value: string | undefined, refuse: Refuse): boolean | undefined {
  if (value === undefined) return undefined;
  if (/^(true|1|yes)$/i.test(value)) return true;
  if (/^(false|0|no)$/i.test(value)) return false;
  return refuse(name, `must be true or false, not '${value}'`);
}

function originsFromEnvironment(value: string | undefined, refuse: Refuse): '*' | string[] | undefined {
  if (value === undefined) return undefined;
  if (value === '*') return '*';
  const origins = list(value) ?? [];
  for (const origin of origins) {
    if (!originSchema.safeParse(origin).success) refuse('ANNALS_CORS_ORIGINS', `'${origin}' is not an origin: write scheme and host (and port), no path, such as https://app.example.com; separate several with commas`);
  }
  return origins;
}

const windowUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function rateLimitFromEnvironment(value: string | undefined, refuse: Refuse): { max: number; windowMs: number } | false | undefined {
  if (value === undefined) return undefined;
  if (/^(off|false|0)$/i.test(value)) return false;
  const match = /^(\d{1,9})\s*\/\s*(\d{1,9})?\s*(ms|s|m|h)$/.exec(value);
  const max = Number(match?.[1]);
  const windowMs = Number(match?.[2] ?? 1) * (windowUnits[match?.[3] ?? ''] ?? 0);
  if (match === null || max < 1 || windowMs < 1 || windowMs > 2 ** 31 - 1) {
    return refuse('ANNALS_MUTATION_RATE_LIMIT', `must be max/window, such as 600/1m or 10/s (units ms, s, m, h), or off; not '${value}'`);
  }
  return { max, windowMs };
}

function rateLimitStoreFromEnvironment(value: string | undefined, refuse: Refuse): 'database' | 'memory' | undefined {
  if (value === undefined) return undefined;
  const store = value.toLowerCase();
  if (store === 'database' || store === 'memory') return store;
  return refuse('ANNALS_RATE_LIMIT_STORE', `must be database (counts shared by every API process) or memory (each process counts on its own); not '${value}'`);
}
