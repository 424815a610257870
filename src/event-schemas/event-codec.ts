import type { z } from 'zod';
import { EventSchemaError, ValidationError } from '../errors.js';
import type { NewEvent, RecordedEvent } from '../event-store/event-store.js';
import { toIssues } from '../validation.js';
import { personalDataOf, personalFieldsOf, type PersonalField } from '../privacy/personal-fields.js';
import type { ValidationIssue } from '../errors.js';
import { isVersioned, type DomainEvent, type DomainEventInput, type EventSchemas, type Upcaster } from './versioned-event.js';

interface Entry {
  schema: z.ZodType;
  version: number;
  upcasters: readonly Upcaster[];
  /** The current version's personal fields (docs/privacy.md). */
  personal: PersonalField[];
  /** Each past version's, for reading its erased fields. */
  pastPersonal: PersonalField[][];
}

/**
 * Validates events on the way in (current schema) and reads them on the way out
 * (upcast from the stored schema version, then validated), for one set of event types.
 */
export class EventCodec<Events extends EventSchemas> {
  readonly #entries: Map<string, Entry>;

  /** @throws ValidationError naming `events.<type>.<field>` for a personal field Annals cannot honour. */
  constructor(events: Events) {
    const issues: ValidationIssue[] = [];
    this.#entries = new Map(
      Object.entries(events).map(([type, definition]) => {
        const { schema, version, upcasters } = isVersioned(definition)
          ? definition
          : { schema: definition, version: 1, upcasters: [] as readonly Upcaster[] };
        const personal = personalFieldsOf(schema, `events.${type}`, issues);
        const pastPersonal = upcasters.map((step, index) => personalFieldsOf(step.schema, `events.${type}.v${index + 1}`, issues));
        return [type, { schema, version, upcasters, personal, pastPersonal }];
      }),
    );
    if (issues.length > 0) throw new ValidationError(issues);
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
      const personal = entry.personal.length === 0 ? [] : personalDataOf(entry.personal, parsed.data as Record<string, unknown>, `events[${index}].data`);
      if (!Array.isArray(personal)) throw new ValidationError([personal]);
      return {
        type: event.type,
        data: parsed.data,
        metadata: metadata(index),
        schemaVersion: entry.version,
        ...(eventId === undefined ? {} : { id: eventId }),
        ...(personal.length > 0 ? { personal } : {}),
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
    let data: unknown = event.erased ? redacted(entry, event) : event.data;
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

/**
 * The data of an event whose subject was forgotten, with each erased field set to its
 * schema's redacted value (the stored version's mark, else the current one's, else null):
 * it then decodes like any other event.
 */
function redacted(entry: Entry, event: RecordedEvent): unknown {
  const data = { ...(event.data as Record<string, unknown>) };
  const marks = event.schemaVersion === entry.version ? entry.personal : (entry.pastPersonal[event.schemaVersion - 1] ?? []);
  for (const field of event.erased ?? []) {
    const mark = marks.find((m) => m.field === field) ?? entry.personal.find((m) => m.field === field);
    data[field] = mark ? mark.redacted : null;
  }
  return data;
}
