import { z } from 'zod';
import { EventSchemaError, ValidationError } from '../errors.js';
import type { NewEvent, RecordedEvent } from '../event-store/event-store.js';
import { toIssues } from '../validation.js';

/**
 * One step of an event type's history: how data of `schema`'s version becomes the next
 * version's shape. Make one with {@link upcast}.
 */
export interface Upcaster {
  readonly schema: z.ZodType;
  readonly upcast: (data: never) => unknown;
}

/**
 * An upcaster from the old shape `schema` to the next version's shape.
 *
 * @example
 * ```ts
 * upcast(z.object({ post: z.string(), userId: z.string() }), (v1) => ({ postId: v1.post, userId: v1.userId, source: 'web' }))
 * ```
 */
export function upcast<S extends z.ZodType>(schema: S, to: (data: z.infer<S>) => unknown): Upcaster {
  return { schema, upcast: to as (data: never) => unknown };
}

/** An event type with past schema versions; see {@link versionedEvent}. */
export interface VersionedEvent<S extends z.ZodType = z.ZodType> {
  readonly kind: 'versioned-event';
  readonly schema: S;
  /** The current schema version: one more than the number of upcasters. */
  readonly version: number;
  readonly upcasters: readonly Upcaster[];
}

/**
 * An event type whose payload changed over time. `history[0]` reads version 1 and
 * returns version 2's shape, `history[1]` reads version 2, and so on; `current` is
 * version `history.length + 1`, the only shape `evolve` and projections ever see. Stored
 * events are never rewritten: old payloads are upcast each time they are read.
 *
 * @example
 * ```ts
 * LikeCreated: versionedEvent(likeCreatedV2, [upcast(likeCreatedV1, (v1) => ({ ...v1, source: 'web' }))]),
 * ```
 */
export function versionedEvent<S extends z.ZodType>(current: S, history: readonly Upcaster[]): VersionedEvent<S> {
  return { kind: 'versioned-event', schema: current, version: history.length + 1, upcasters: history };
}

/** Event types by name: a zod schema, or a {@link versionedEvent}. */
export type EventSchemas = Record<string, z.ZodType | VersionedEvent>;

type SchemaOf<T> = T extends VersionedEvent<infer S> ? S : T extends z.ZodType ? T : never;

/** The data of one event type, as `evolve` sees it (the current shape). */
export type EventData<T> = z.infer<SchemaOf<T>>;

/** The events of a schema map as a discriminated union: `{ type: 'LikeCreated', data: {...} }`. */
export type DomainEvent<Events extends EventSchemas> = {
  [K in keyof Events & string]: { type: K; data: EventData<Events[K]> };
}[keyof Events & string];

/** What `decide` may return for each event type: the data as it goes in (before zod defaults). */
export type DomainEventInput<Events extends EventSchemas> = {
  [K in keyof Events & string]: { type: K; data: z.input<SchemaOf<Events[K]>> };
}[keyof Events & string];

interface Entry {
  schema: z.ZodType;
  version: number;
  upcasters: readonly Upcaster[];
}

/**
 * Validates events on the way in (current schema) and reads them on the way out
 * (upcast from the stored schema version, then validated), for one set of event types.
 */
export class EventCodec<Events extends EventSchemas> {
  readonly #entries: Map<string, Entry>;

  constructor(events: Events) {
    this.#entries = new Map(
      Object.entries(events).map(([type, definition]) => [
        type,
        isVersioned(definition)
          ? { schema: definition.schema, version: definition.version, upcasters: definition.upcasters }
          : { schema: definition, version: 1, upcasters: [] },
      ]),
    );
  }

  has(type: string): boolean {
    return this.#entries.has(type);
  }

  /**
   * Checks decided events against their current schemas and stamps the schema version.
   * @throws ValidationError naming `events[i].data…` when one does not fit.
   */
  encode(events: readonly DomainEventInput<Events>[], metadata: (index: number) => NewEvent['metadata'] & object, id: (index: number) => string | undefined): NewEvent[] {
    return events.map((event, index) => {
      const entry = this.#entries.get(event.type);
      if (!entry) {
        throw new ValidationError([{ field: `events[${index}].type`, reason: `'${event.type}' is not one of this aggregate's event types` }]);
      }
      const parsed = entry.schema.safeParse(event.data);
      if (!parsed.success) throw new ValidationError(toIssues(parsed.error, `events[${index}].data`));
      const eventId = id(index);
      return {
        type: event.type,
        data: parsed.data,
        metadata: metadata(index),
        schemaVersion: entry.version,
        ...(eventId === undefined ? {} : { id: eventId }),
      };
    });
  }

  /**
   * A stored event in its current shape.
   * @throws EventSchemaError when its type is unknown, its version is newer than this
   *   code knows, its data does not fit once upcast, or an upcaster (or a schema's
   *   transform) throws: the original error is its `cause`.
   */
  decode(event: RecordedEvent): DomainEvent<Events> {
    const entry = this.#entries.get(event.type);
    if (!entry) throw new EventSchemaError(event, `'${event.type}' is not a known event type here`);
    if (event.schemaVersion > entry.version) {
      throw new EventSchemaError(event, `schema version ${event.schemaVersion} is newer than this code knows (${entry.version})`);
    }
    let data: unknown = event.data;
    for (let version = event.schemaVersion; version < entry.version; version++) {
      const step = entry.upcasters[version - 1]!;
      const old = guarded(event, `reading schema version ${version}`, () => step.schema.safeParse(data));
      if (!old.success) {
        throw new EventSchemaError(event, `data does not fit schema version ${version}`, toIssues(old.error, 'data'));
      }
      data = guarded(event, `upcasting from schema version ${version}`, () => step.upcast(old.data as never));
    }
    const current = guarded(event, `reading schema version ${entry.version}`, () => entry.schema.safeParse(data));
    if (!current.success) {
      throw new EventSchemaError(event, `data does not fit schema version ${entry.version}`, toIssues(current.error, 'data'));
    }
    return { type: event.type, data: current.data } as DomainEvent<Events>;
  }
}

/**
 * `work`'s result, or an EventSchemaError naming the event when it throws. An upcaster
 * written for the payloads its author had in mind meets every payload ever stored; a bare
 * TypeError from it named neither the event nor its stream, and projection workers, which
 * dead-letter an EventSchemaError at once, retried it in vain (issue 11).
 */
function guarded<T>(event: RecordedEvent, step: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof EventSchemaError) throw error;
    throw new EventSchemaError(event, `${step} threw: ${String(error)}`, [], { cause: error });
  }
}

function isVersioned(value: z.ZodType | VersionedEvent): value is VersionedEvent {
  return (value as VersionedEvent).kind === 'versioned-event';
}
