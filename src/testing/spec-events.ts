import { z } from 'zod';
import type { DomainEventInput, EventSchemas, VersionedEvent } from '../event-schemas/versioned-event.js';
import { ValidationError, type ValidationIssue } from '../errors.js';
import type { RecordedEvent } from '../event-store/event-store.js';
import { categoryOf } from '../event-store/stream-name.js';
import { jsonIssues, streamIdSchema } from '../event-store/validation.js';
import { parseInput } from '../validation.js';
import type { AnyProjection } from '../projections/define-projection.js';

/** Where an event sits in the spec's log; every field has a default (see {@link recordSpecEvents}). */
export interface SpecEventPlacement {
  /** Default: `<first category of the projection>-1` (`spec-1` for a projection of every category). */
  streamId?: string;
  /** Default: a fixed UUID numbered in log order (`00000000-0000-4000-8000-000000000001`, …). */
  id?: string;
  /** Default: one more than the stream's last version in the spec (1 for its first event). */
  version?: number;
  /** Default: `{}`. */
  metadata?: Record<string, unknown>;
  /** Default: one second after the previous event's, the first at 2025-01-01T00:00:00Z. */
  recordedAt?: Date;
  /**
   * Default: one more than the highest so far (1 for the first). Give it, with `id` and
   * `version`, to deliver an event again, as a checkpoint moved back would.
   */
  globalPosition?: bigint;
}

/**
 * An event as a spec gives it: its type and data in the current shape (before zod
 * defaults, as `decide` returns them), or, with `schemaVersion`, data in an older shape
 * that the projection's upcasters must read; or an event read from a store.
 */
export type ProjectionSpecEvent<Events extends EventSchemas> =
  | (SpecEventPlacement &
      (
        | (DomainEventInput<Events> & { schemaVersion?: undefined })
        | { type: keyof Events & string; data: unknown; schemaVersion: number }
      ))
  // As read from a store (`readAll`): a slice of a real log, taken as it is.
  | RecordedEvent;

/** How far the spec's log has got: given events leave it where when events go on. */
export interface SpecLogState {
  readonly position: bigint;
  readonly count: number;
  readonly versions: ReadonlyMap<string, number>;
  readonly lastRecordedAt: number | undefined;
}

export const emptySpecLog: SpecLogState = { position: 0n, count: 0, versions: new Map(), lastRecordedAt: undefined };

/** A fixed start, so rows that keep `recordedAt` can be written out in a spec. */
const firstRecordedAt = Date.parse('2025-01-01T00:00:00.000Z');

const specEventSchema = z.strictObject(
  {
    type: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }),
    data: z.unknown(),
    streamId: streamIdSchema.optional(),
    id: z.uuid({ error: 'must be a UUID' }).optional(),
    version: z.number().int({ error: 'must be a whole number' }).min(1, { error: 'must be >= 1' }).max(2_147_483_647).optional(),
    schemaVersion: z.number().int({ error: 'must be a whole number' }).min(1, { error: 'must be >= 1' }).optional(),
    metadata: z.unknown().optional(),
    recordedAt: z.date({ error: 'must be a Date' }).optional(),
    globalPosition: z.bigint({ error: 'must be a bigint' }).min(1n, { error: 'must be >= 1' }).optional(),
  },
  { error: 'must be an object { type, data, streamId?, id?, version?, schemaVersion?, metadata?, recordedAt?, globalPosition? }' },
);

const specEventsSchema = z.array(specEventSchema, { error: 'must be an array of events' });

/** The current schema version of each event type the projection handles (1 for a plain zod schema). */
function currentVersions(projection: AnyProjection): Map<string, number> {
  const events = projection.definition.events as EventSchemas;
  return new Map(
    Object.entries(events).map(([type, schema]) => [type, (schema as VersionedEvent).kind === 'versioned-event' ? (schema as VersionedEvent).version : 1]),
  );
}

const defaultId = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

/**
 * Turns a spec's events into events as the log would return them, numbered on from
 * `from`: increasing global positions, versions per stream, ids, times (what the event
 * gives is kept). Data and metadata go through JSON, as they do through the store's
 * jsonb (a Date becomes a string, `undefined` fields vanish), so handlers see what they
 * will see in production.
 * Nothing is decoded here: that happens in the spec's transaction, as in a worker's batch.
 *
 * @throws ValidationError naming `given[i]…` or `when[i]…`: a malformed event, a type
 *   the projection does not handle, or a stream of a category it does not read. A worker
 *   would never deliver those, so a spec with one tests nothing.
 */
export function recordSpecEvents(
  projection: AnyProjection,
  input: unknown,
  field: 'given' | 'when',
  from: SpecLogState,
): { events: RecordedEvent[]; state: SpecLogState } {
  const parsed = parseInput(specEventsSchema, input, field);
  const schemaVersions = currentVersions(projection);
  const defaultStream = `${projection.categories?.[0] ?? 'spec'}-1`;
  const issues: ValidationIssue[] = [];
  const versions = new Map(from.versions);
  let { position, count, lastRecordedAt } = from;
  const events: RecordedEvent[] = [];
  parsed.forEach((event, index) => {
    const at = `${field}[${index}]`;
    const current = schemaVersions.get(event.type);
    if (current === undefined) {
      issues.push({
        field: `${at}.type`,
        reason: `'${event.type}' is not an event type projection '${projection.name}' handles (${projection.eventTypes.join(', ')})`,
      });
      return;
    }
    const streamId = event.streamId ?? defaultStream;
    const category = categoryOf(streamId);
    if (projection.categories && !projection.categories.includes(category)) {
      issues.push({
        field: `${at}.streamId`,
        reason: `stream '${streamId}' is in category '${category}', which projection '${projection.name}' does not read (${projection.categories.join(', ')})`,
      });
      return;
    }
    const payloadIssues = [...jsonIssues(event.data, `${at}.data`, false), ...(event.metadata === undefined ? [] : jsonIssues(event.metadata, `${at}.metadata`, true))];
    if (payloadIssues.length > 0) {
      issues.push(...payloadIssues);
      return;
    }
    const version = event.version ?? (versions.get(streamId) ?? 0) + 1;
    versions.set(streamId, Math.max(version, versions.get(streamId) ?? 0));
    const globalPosition = event.globalPosition ?? position + 1n;
    if (globalPosition > position) position = globalPosition;
    count += 1;
    const recordedAt = event.recordedAt?.getTime() ?? (lastRecordedAt === undefined ? firstRecordedAt : lastRecordedAt + 1000);
    lastRecordedAt = recordedAt;
    events.push({
      streamId,
      version,
      globalPosition,
      id: event.id?.toLowerCase() ?? defaultId(count),
      type: event.type,
      schemaVersion: event.schemaVersion ?? current,
      data: event.data === undefined ? null : JSON.parse(JSON.stringify(event.data)),
      metadata: event.metadata === undefined ? {} : (JSON.parse(JSON.stringify(event.metadata)) as Record<string, unknown>),
      recordedAt: new Date(recordedAt),
    });
  });
  if (issues.length > 0) throw new ValidationError(issues);
  return { events, state: { position, count, versions, lastRecordedAt } };
}
