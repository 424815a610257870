import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ValidationError, type ValidationIssue } from '../errors.js';
import type { ExpectedVersion } from './expected-version.js';
import { expectedVersionSchema } from './expected-version.js';
import { categoryOf } from './stream-name.js';

/** Limits on what one append may carry; both are settings of `createEventStore`. */
export interface AppendLimits {
  /** Largest serialized `data` + `metadata` of one event, in bytes. */
  maxEventBytes: number;
  /** Most events in one `appendToStream` call. */
  maxEventsPerAppend: number;
}

export const defaultAppendLimits: AppendLimits = {
  maxEventBytes: 1024 * 1024,
  maxEventsPerAppend: 10_000,
};

const nameRules = (what: string) =>
  z
    .string({ error: `must be a string` })
    .min(1, { error: 'must not be empty' })
    .max(255, { error: `must be at most 255 characters` })
    .refine((value) => !/[\u0000-\u001f\u007f]/.test(value), {
      error: `must not contain control characters`,
    })
    .refine((value) => value.trim() === value, {
      error: `must not start or end with white space`,
    })
    .describe(what);

export const streamIdSchema = nameRules('stream id');
export const eventTypeSchema = nameRules('event type');

const eventInputSchema = z.object(
  {
    type: eventTypeSchema,
    data: z.unknown(),
    metadata: z.unknown().optional(),
    id: z.uuid({ error: 'must be a UUID' }).optional(),
    schemaVersion: z
      .number({ error: 'must be a number' })
      .int({ error: 'must be an integer' })
      .min(1, { error: 'must be at least 1' })
      .max(2_147_483_647, { error: 'must fit in 32 bits' })
      .optional(),
  },
  { error: 'must be an object { type, data, metadata?, id?, schemaVersion? }' },
);

/** An event as a caller gives it to `appendToStream`. */
export type EventInput = z.input<typeof eventInputSchema>;

/** An event checked and serialized, ready for the append statement. */
export interface PreparedEvent {
  id: string;
  /** True when the caller chose the id (only then can the append be a retry). */
  idFromCaller: boolean;
  type: string;
  schemaVersion: number;
  dataJson: string;
  metadataJson: string;
}

export interface PreparedAppend {
  streamId: string;
  category: string;
  expectedVersion: ExpectedVersion;
  events: PreparedEvent[];
}

/**
 * Checks everything about an append that can be checked without the database, and
 * serializes the payloads once. Throws {@link ValidationError} listing every problem;
 * nothing has been written at that point.
 */
export function prepareAppend(
  streamId: unknown,
  events: unknown,
  expectedVersion: unknown,
  limits: AppendLimits,
): PreparedAppend {
  const issues: ValidationIssue[] = [];
  const stream = streamIdSchema.safeParse(streamId);
  if (!stream.success) issues.push(...toIssues(stream.error, 'streamId'));
  const expected = expectedVersionSchema.safeParse(expectedVersion ?? 'any');
  if (!expected.success) issues.push(...toIssues(expected.error, 'expectedVersion'));

  const prepared: PreparedEvent[] = [];
  if (!Array.isArray(events)) {
    issues.push({ field: 'events', reason: 'must be an array of events' });
  } else if (events.length === 0) {
    issues.push({ field: 'events', reason: 'must contain at least one event' });
  } else if (events.length > limits.maxEventsPerAppend) {
    issues.push({
      field: 'events',
      reason: `has ${events.length} events, more than the limit of ${limits.maxEventsPerAppend} per append`,
    });
  } else {
    const seenIds = new Map<string, number>();
    events.forEach((event: unknown, index) => {
      const at = `events[${index}]`;
      const parsed = eventInputSchema.safeParse(event);
      if (!parsed.success) {
        issues.push(...toIssues(parsed.error, at));
        return;
      }
      const { type, data, metadata, id, schemaVersion } = parsed.data;
      const dataIssues = jsonIssues(data, `${at}.data`, false);
      const metadataIssues =
        metadata === undefined ? [] : jsonIssues(metadata, `${at}.metadata`, true);
      issues.push(...dataIssues, ...metadataIssues);
      if (dataIssues.length > 0 || metadataIssues.length > 0) return;

      const lowerId = id?.toLowerCase();
      if (lowerId !== undefined) {
        const first = seenIds.get(lowerId);
        if (first !== undefined) {
          issues.push({ field: `${at}.id`, reason: `repeats the id of events[${first}]` });
          return;
        }
        seenIds.set(lowerId, index);
      }
      const dataJson = JSON.stringify(data);
      const metadataJson = metadata === undefined ? '{}' : JSON.stringify(metadata);
      const bytes = Buffer.byteLength(dataJson) + Buffer.byteLength(metadataJson);
      if (bytes > limits.maxEventBytes) {
        issues.push({
          field: `${at}.data`,
          reason: `data and metadata take ${bytes} bytes as JSON, more than the limit of ${limits.maxEventBytes}`,
        });
        return;
      }
      prepared.push({
        id: lowerId ?? randomUUID(),
        idFromCaller: lowerId !== undefined,
        type,
        schemaVersion: schemaVersion ?? 1,
        dataJson,
        metadataJson,
      });
    });
  }

  if (issues.length > 0) throw new ValidationError(issues);
  const checkedStreamId = stream.data as string;
  return {
    streamId: checkedStreamId,
    category: categoryOf(checkedStreamId),
    expectedVersion: expected.data as ExpectedVersion,
    events: prepared,
  };
}

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

function formatPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

/**
 * Finds what in `value` would not survive a round trip through Postgres jsonb unchanged:
 * functions, symbols, bigints, non-finite numbers, class instances (a Date would come back
 * as a string), cycles, NUL characters and unpaired surrogates (jsonb rejects both).
 * `undefined` object properties are allowed and dropped, as JSON.stringify does.
 */
function jsonIssues(value: unknown, field: string, mustBeObject: boolean): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if (mustBeObject && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    return [{ field, reason: 'must be a plain object' }];
  }
  const ancestors = new Set<object>();
  const visit = (node: unknown, path: string): void => {
    if (issues.length >= 20) return;
    switch (typeof node) {
      case 'string':
        if (!isStorableString(node)) {
          issues.push({ field: path, reason: 'contains a NUL character or an unpaired surrogate, which jsonb cannot store' });
        }
        return;
      case 'boolean':
        return;
      case 'number':
        if (!Number.isFinite(node)) issues.push({ field: path, reason: `is ${node}, which is not JSON` });
        return;
      case 'bigint':
        issues.push({ field: path, reason: 'is a bigint, which is not JSON; store it as a string' });
        return;
      case 'undefined':
        issues.push({ field: path, reason: 'is undefined, which is not JSON' });
        return;
      case 'function':
      case 'symbol':
        issues.push({ field: path, reason: `is a ${typeof node}, which is not JSON` });
        return;
    }
    if (node === null) return;
    const object = node as object;
    if (ancestors.has(object)) {
      issues.push({ field: path, reason: 'refers back to itself (a cycle), which is not JSON' });
      return;
    }
    ancestors.add(object);
    if (Array.isArray(object)) {
      object.forEach((item, index) => visit(item, `${path}[${index}]`));
    } else {
      const prototype = Object.getPrototypeOf(object);
      if (prototype !== Object.prototype && prototype !== null) {
        const name = (object as { constructor?: { name?: string } }).constructor?.name ?? 'object';
        issues.push({
          field: path,
          reason: `is a ${name} instance, not plain data; convert it (a Date with toISOString(), say)`,
        });
      } else {
        for (const [key, child] of Object.entries(object)) {
          const childPath = /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
          if (!isStorableString(key)) {
            issues.push({ field: childPath, reason: 'key contains a NUL character or an unpaired surrogate' });
          } else if (child !== undefined) {
            visit(child, childPath);
          }
        }
      }
    }
    ancestors.delete(object);
  };
  visit(value, field);
  return issues;
}

function isStorableString(value: string): boolean {
  return !value.includes('\u0000') && value.isWellFormed();
}
