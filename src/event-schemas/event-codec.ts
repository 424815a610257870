import type { z } from 'zod';
import { EventSchemaError, ValidationError } from '../errors.js';
import type { NewEvent, RecordedEvent } from '../event-store/event-store.js';
import { toIssues } from '../validation.js';
import { isVersioned, type DomainEvent, type DomainEventInput, type EventSchemas, type Upcaster } from './versioned-event.js';

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
