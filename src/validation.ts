import type { z } from 'zod';
import { ValidationError, type ValidationIssue } from './errors.js';

/**
 * Input parsing shared by every layer: a zod schema's failure becomes a ValidationError
 * whose issues name the field (`events[2].type`, `consumer.partitions`) and the reason.
 */

/** Turns zod's issues into Annals' `{ field, reason }`, with paths like `events[2].type`. */
export function toIssues(error: z.ZodError, prefix: string): ValidationIssue[] {
  return error.issues.map((issue) => ({
    field: formatPath(prefix, issue.path),
    reason: issue.message,
  }));
}

/** Parses `value` with `schema`, or throws a ValidationError whose fields start at `prefix`. */
export function parseInput<T>(schema: z.ZodType<T>, value: unknown, prefix: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(toIssues(result.error, prefix));
  return result.data;
}

/** A field path as issues name it: `events[2].data.title`. */
export function formatPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}
