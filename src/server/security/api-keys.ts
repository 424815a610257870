/**
 * API keys: long random secrets a client sends as `Authorization: Bearer <key>`, each
 * with a name (the principal's subject) and roles. Given in code (`security.apiKeys`) or
 * in `ANNALS_API_KEYS`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { z } from 'zod';
import { ValidationError, type ValidationIssue } from '../../errors.js';
import { Roles, type Principal } from '../principal.js';
import { apiKeyNameSchema, apiKeySecretSchema, rolesSchema, type ApiKey } from './security-options.js';

/**
 * The principal of the key a token is, or undefined. Every key is compared, in constant
 * time, whatever matched: how long the answer takes says nothing of how much of a key a
 * guess got right (a `===` stops at the first differing character), nor of which key it
 * was. The digests make the lengths equal, which timingSafeEqual needs.
 */
export function apiKeyMatcher(keys: readonly ApiKey[]): (token: string) => Principal | undefined {
  const entries = keys.map((key) => ({
    digest: digest(key.key),
    principal: { subject: key.name, roles: [...key.roles], via: 'api-key' } satisfies Principal,
  }));
  return (token) => {
    const presented = digest(token);
    let found: Principal | undefined;
    for (const entry of entries) {
      const matches = timingSafeEqual(presented, entry.digest);
      if (matches && found === undefined) found = entry.principal;
    }
    return found;
  };
}

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** The variable `apiKeysFromEnvironment` reads. */
export const apiKeysVariable = 'ANNALS_API_KEYS';

/** What a key of `ANNALS_API_KEYS` without roles gets: every role the service checks. */
const allRoles: readonly string[] = [Roles.writer, Roles.admin];

/**
 * The keys of `ANNALS_API_KEYS`: comma-separated entries `name:key` or `name:key:roles`,
 * roles joined with `+` (`ci:Zm9vYmFyYmF6cXV4cXV1eA:writer,console:c2VjcmV0c2VjcmV0MTIz:admin`).
 * An entry without roles gets `writer` and `admin`. Spaces around entries are ignored;
 * empty or unset means no keys.
 *
 * @throws ValidationError on the field `ANNALS_API_KEYS`, each reason naming the entry by
 * its position and name (never quoting a key): an empty entry, a missing key, a short or
 * malformed key, a malformed role, a name or key given twice.
 *
 * @example
 * ```ts
 * apiKeysFromEnvironment('ci:Zm9vYmFyYmF6cXV4cXV1eA:writer');
 * // [{ name: 'ci', key: 'Zm9vYmFyYmF6cXV4cXV1eA', roles: ['writer'] }]
 * ```
 */
export function apiKeysFromEnvironment(value: string | undefined): ApiKey[] {
  if (value === undefined || value.trim() === '') return [];
  const issues: ValidationIssue[] = [];
  const refuse = (reason: string) => issues.push({ field: apiKeysVariable, reason });
  const keys: ApiKey[] = [];
  value.split(',').forEach((raw, index) => {
    const entry = raw.trim();
    const where = `entry ${index + 1}`;
    if (entry === '') return refuse(`${where} is empty (entries are name:key or name:key:role+role, separated by commas)`);
    const [name = '', key, roles, ...rest] = entry.split(':');
    // An entry of one part may be a key given without a name: it is not quoted.
    if (key === undefined || key === '') return refuse(`${where} has no key: write it name:key or name:key:role+role`);
    const named = apiKeyNameSchema.safeParse(name).success ? `${where} ('${name}')` : where;
    if (!apiKeyNameSchema.safeParse(name).success) refuse(`${where}: the name ${reasonOf(apiKeyNameSchema, name)}`);
    if (rest.length > 0) return refuse(`${named} has more than three parts: a key cannot contain ':'`);
    if (!apiKeySecretSchema.safeParse(key).success) refuse(`${named}: the key ${reasonOf(apiKeySecretSchema, key)}`);
    const roleList = roles === undefined ? [...allRoles] : roles.split('+');
    if (!rolesSchema.safeParse(roleList).success) refuse(`${named}: the roles ${reasonOf(rolesSchema, roleList)} (join several with +: writer+admin)`);
    if (keys.some((other) => other.name === name)) refuse(`${named}: the name is given twice`);
    if (keys.some((other) => other.key === key)) refuse(`${named}: the key is the key of another entry`);
    keys.push({ name, key, roles: roleList });
  });
  if (issues.length > 0) throw new ValidationError(issues);
  return keys;
}

function reasonOf(schema: z.ZodType, value: unknown): string {
  const result = schema.safeParse(value);
  return result.success ? 'is fine' : (result.error.issues[0]?.message ?? 'is malformed');
}
