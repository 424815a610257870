import { z } from 'zod';
import { ValidationError, type ValidationIssue } from '../errors.js';
import type { ExpectedVersion } from './expected-version.js';
import type { EventInput } from './records.js';
import { expectedVersionSchema } from './expected-version.js';
import { categoryOf } from './stream-name.js';
import { newEventId } from './event-ids.js';
import { formatPath, toIssues } from '../validation.js';
import { personalKey, type PersonalData } from '../privacy/personal-data.js';

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

export const nameRules = (what: string) =>
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
    personal: z
      .array(
        z.object(
          {
            subject: nameRules('data subject'),
            fields: z.array(z.string({ error: 'must be a field name' }).min(1, { error: 'must not be empty' }), { error: 'must be an array of field names' }).min(1, { error: 'must name at least one field' }),
          },
          { error: 'must be an object { subject, fields }' },
        ),
        { error: 'must be an array of { subject, fields }' },
      )
      .optional(),
  },
  { error: 'must be an object { type, data, metadata?, id?, schemaVersion?, personal? }' },
);

// The schema and the interface callers see (records.ts) describe one shape; this line
// stops compiling when either changes alone.
const sameShape: [z.input<typeof eventInputSchema>, EventInput] extends [EventInput, z.input<typeof eventInputSchema>] ? true : never = true;
void sameShape;

/** An event checked and serialized, ready for the append statement. */
export interface PreparedEvent {
  id: string;
  /** True when the caller chose the id (only then can the append be a retry). */
  idFromCaller: boolean;
  type: string;
  schemaVersion: number;
  dataJson: string;
  metadataJson: string;
  /** Its personal fields by data subject (checked against `data`): sealed before the append. */
  personal?: PersonalData[];
  /** `data` as given, when it has personal fields: `dataJson` becomes the sealed form. */
  data?: Record<string, unknown>;
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
      const { type, data, metadata, id, schemaVersion, personal } = parsed.data;
      const dataIssues = [...jsonIssues(data, `${at}.data`, false), ...personalIssues(data, personal, at)];
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
        id: lowerId ?? newEventId(),
        idFromCaller: lowerId !== undefined,
        type,
        schemaVersion: schemaVersion ?? 1,
        dataJson,
        metadataJson,
        ...(personal && personal.length > 0 ? { personal, data: data as Record<string, unknown> } : {}),
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

/**
 * Deepest nesting of arrays and objects allowed in an event's `data`, and separately in
 * its `metadata`, each counted from its own root: `{}` and `[]` are 1 deep, `{ a: [1] }`
 * is 2, a string or number 0. Deeper values are refused with a {@link ValidationError}.
 *
 * Why 512: Postgres refuses jsonb nested deeper than its `max_stack_depth` allows; at the
 * smallest setting it accepts (100kB) an appended object still goes ~619 levels deep (at
 * the default 2MB, ~13,000; PGlite, ~6,600). Code that later handles a stored event
 * recurses too: V8's JSON.stringify stops at ~4,000 levels, util.isDeepStrictEqual (an
 * idempotent retry) and zod's z.lazy from ~1,200 (Node 20, on a fresh stack). 512 leaves
 * every one of them room, and real event data rarely nests more than a dozen levels.
 *
 * @example
 * ```ts
 * // events[0].data: is nested more than 512 levels deep (arrays and objects within one another), past the limit
 * await store.appendToStream('post-1', [{ type: 'Deep', data: JSON.parse('['.repeat(513) + ']'.repeat(513)) }]);
 * ```
 */
export const maxJsonDepth = 512;

/** One value waiting to be checked, and where it sits. */
interface Step {
  node: unknown;
  /** The step of the array or object holding `node`; none for the field itself. */
  parent: Step | undefined;
  /** `node`'s index or key in its parent. */
  key: string | number | undefined;
  /** How many arrays and objects hold `node` within the field. */
  depth: number;
}

/**
 * Finds what in `value` would not survive a round trip through Postgres jsonb unchanged:
 * functions, symbols, bigints, non-finite numbers, class instances (a Date would come back
 * as a string), cycles, NUL characters and unpaired surrogates (jsonb rejects both), and
 * nesting deeper than {@link maxJsonDepth}.
 * `undefined` object properties are allowed and dropped, as JSON.stringify does.
 *
 * The walk keeps its own stack instead of recursing: a recursive walk threw a raw
 * RangeError (call stack exceeded) on arrays 2,000 deep, a 4 KB payload (issue 11). It
 * stops at the limit, so the cost does not grow with how deep the input goes, and paths
 * are built only for the values that have an issue.
 */
export function jsonIssues(value: unknown, field: string, mustBeObject: boolean): ValidationIssue[] {
  if (mustBeObject && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    return [{ field, reason: 'must be a plain object' }];
  }
  const issues: ValidationIssue[] = [];
  const at = (step: Step): string => {
    const keys: (string | number)[] = [];
    for (let current: Step | undefined = step; current?.key !== undefined; current = current.parent) keys.push(current.key);
    return formatPath(field, keys.reverse());
  };
  // Pre-order, depth first, as JSON.stringify visits: children are pushed last to first.
  const pending: Step[] = [{ node: value, parent: undefined, key: undefined, depth: 0 }];
  // The arrays and objects that hold the step being checked, outermost first (for cycles).
  const open: object[] = [];
  const ancestors = new Set<object>();
  while (pending.length > 0 && issues.length < 20) {
    const step = pending.pop()!;
    // Everything pushed after this step has been checked: close the containers it left.
    while (open.length > step.depth) ancestors.delete(open.pop()!);
    const { node, key } = step;
    if (typeof key === 'string') {
      if (!isStorableString(key)) {
        issues.push({ field: at(step), reason: 'key contains a NUL character or an unpaired surrogate' });
        continue;
      }
      if (node === undefined) continue;
    }
    switch (typeof node) {
      case 'string':
        if (!isStorableString(node)) {
          issues.push({ field: at(step), reason: 'contains a NUL character or an unpaired surrogate, which jsonb cannot store' });
        }
        continue;
      case 'boolean':
        continue;
      case 'number':
        if (!Number.isFinite(node)) issues.push({ field: at(step), reason: `is ${node}, which is not JSON` });
        continue;
      case 'bigint':
        issues.push({ field: at(step), reason: 'is a bigint, which is not JSON; store it as a string' });
        continue;
      case 'undefined':
        issues.push({ field: at(step), reason: 'is undefined, which is not JSON' });
        continue;
      case 'function':
      case 'symbol':
        issues.push({ field: at(step), reason: `is a ${typeof node}, which is not JSON` });
        continue;
    }
    if (node === null) continue;
    const object = node as object;
    if (ancestors.has(object)) {
      issues.push({ field: at(step), reason: 'refers back to itself (a cycle), which is not JSON' });
      continue;
    }
    if (step.depth >= maxJsonDepth) {
      // The field, not the path: that would be hundreds of segments long.
      issues.push({
        field,
        reason: `is nested more than ${maxJsonDepth} levels deep (arrays and objects within one another), past the limit`,
      });
      return issues;
    }
    const depth = step.depth + 1;
    if (Array.isArray(object)) {
      ancestors.add(object);
      open.push(object);
      for (let index = object.length - 1; index >= 0; index--) {
        const item: unknown = object[index];
        // A hole in a sparse array: skipped, as before (JSON.stringify writes null).
        if (item === undefined && !(index in object)) continue;
        pending.push({ node: item, parent: step, key: index, depth });
      }
      continue;
    }
    const prototype = Object.getPrototypeOf(object);
    if (prototype !== Object.prototype && prototype !== null) {
      const name = (object as { constructor?: { name?: string } }).constructor?.name ?? 'object';
      issues.push({
        field: at(step),
        reason: `is a ${name} instance, not plain data; convert it (a Date with toISOString(), say)`,
      });
      continue;
    }
    ancestors.add(object);
    open.push(object);
    const keys = Object.keys(object);
    for (let index = keys.length - 1; index >= 0; index--) {
      const childKey = keys[index]!;
      pending.push({ node: (object as Record<string, unknown>)[childKey], parent: step, key: childKey, depth });
    }
  }
  return issues;
}

function isStorableString(value: string): boolean {
  return !value.includes('\u0000') && value.isWellFormed();
}

/**
 * `personal` must name fields `data` has, each under one subject; and no data may use the
 * key personal fields are sealed under (it would be read back as sealed fields).
 */
function personalIssues(data: unknown, personal: PersonalData[] | undefined, at: string): ValidationIssue[] {
  const isObject = typeof data === 'object' && data !== null && !Array.isArray(data);
  if (isObject && personalKey in data) return [{ field: `${at}.data.${personalKey}`, reason: 'is reserved for sealed personal fields' }];
  if (!personal || personal.length === 0) return [];
  if (!isObject) return [{ field: `${at}.personal`, reason: 'needs data to be an object: personal fields are fields of it' }];
  const issues: ValidationIssue[] = [];
  const seen = new Set<string>();
  personal.forEach(({ fields }, entry) =>
    fields.forEach((field, index) => {
      const where = `${at}.personal[${entry}].fields[${index}]`;
      if (!Object.hasOwn(data, field)) issues.push({ field: where, reason: `'${field}' is not a field of data` });
      else if (seen.has(field)) issues.push({ field: where, reason: `'${field}' is named twice` });
      seen.add(field);
    }),
  );
  return issues;
}
