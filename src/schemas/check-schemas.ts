import { z } from 'zod';
import type { AnyAggregate } from '../aggregates/define-aggregate.js';
import type { Consumer } from '../consumers/define-consumer.js';
import type { EventSchemaError } from '../errors.js';
import { ErrorCodes } from '../errors/annals-error.js';
import type { EventStore, RecordedEvent } from '../event-store/event-store.js';
import type { ValidationIssue } from '../errors.js';
import type { AnyProjection } from '../projections/define-projection.js';
import { parseInput } from '../validation.js';
import { isVersioned, type EventSchemas } from '../event-schemas/versioned-event.js';
import { everyEvent, sampledEvents, storedKinds, type StoredKind } from './stored-events.js';

/**
 * Schema compatibility, before a deploy (docs/schemas.md): does every stored event still
 * decode with the code about to run? Each aggregate reads its category's events of its
 * types, each projection its types (in its categories); every stored schema version of
 * those is read (a sample spread over its history, or all of it) and run through the
 * code's upcasters and current schema, exactly as loading an aggregate or projecting does.
 */

/** The code whose readers the check runs: what annals.config.ts lists. */
export interface SchemaCheckCode {
  aggregates?: readonly AnyAggregate[];
  projections?: readonly AnyProjection[];
  /** They decode nothing: their types only count as handled. */
  consumers?: readonly Consumer[];
  /** Their routes' types only count as handled. */
  outboxes?: readonly { readonly name: string; readonly filter: { eventTypes: readonly string[] | undefined; categories: readonly string[] | undefined } }[];
}

export interface SchemaCheckOptions {
  /** Events read per reader, type and stored schema version, spread over its history (default 1,000). */
  sample?: number;
  /** Read every stored event instead of a sample. */
  full?: boolean;
  /** Failing events described per reader, type and version (default 3). */
  examples?: number;
}

/** One stored event that does not decode. */
export interface SchemaCheckExample {
  globalPosition: bigint;
  streamId: string;
  eventId: string;
  reason: string;
  /** zod's findings, each with the path in the event (`data.amount`). */
  issues: readonly ValidationIssue[];
}

/** One reader, one event type, one stored schema version. */
export interface SchemaCheckResult {
  reader: { kind: 'aggregate' | 'projection'; name: string };
  type: string;
  /** The stored schema version. */
  schemaVersion: number;
  /** The version the reader's code writes and reads now. */
  currentVersion: number;
  /** Events of this type and version the reader reads. */
  stored: number;
  /** How many were decoded: all of them with `full`, else a sample. */
  checked: number;
  failed: number;
  examples: SchemaCheckExample[];
}

export interface SchemaCheckReport {
  /** No event checked failed to decode. */
  ok: boolean;
  full: boolean;
  results: SchemaCheckResult[];
  /**
   * Stored categories and types no aggregate, projection, consumer or outbox of the code
   * reads (Annals' own `annals.*` types left out): code that handled them is gone, or was
   * renamed. Reported, not failed: retired events stay in the log.
   */
  unhandled: StoredKind[];
}

const optionsSchema = z
  .object({
    sample: z.number({ error: 'must be a number' }).int({ error: 'must be a whole number' }).min(1, { error: 'must be at least 1' }).max(1_000_000, { error: 'must be at most 1,000,000 (use full to read everything)' }).optional(),
    full: z.boolean({ error: 'must be true or false' }).optional(),
    examples: z.number({ error: 'must be a number' }).int({ error: 'must be a whole number' }).min(0, { error: 'must be at least 0' }).max(1000, { error: 'must be at most 1,000' }).optional(),
  })
  .optional();

interface Reader {
  kind: 'aggregate' | 'projection';
  name: string;
  types: ReadonlyMap<string, number>;
  categories: readonly string[] | undefined;
  decode(event: RecordedEvent): unknown;
}

/** Each event type's current schema version. */
function versionsOf(events: EventSchemas): Map<string, number> {
  return new Map(Object.entries(events).map(([type, definition]) => [type, isVersioned(definition) ? definition.version : 1]));
}

function readersOf(code: SchemaCheckCode): Reader[] {
  const aggregates = (code.aggregates ?? []).map((aggregate): Reader => ({
    kind: 'aggregate',
    name: aggregate.category,
    types: versionsOf(aggregate.events),
    categories: [aggregate.category],
    decode: (event) => aggregate.eventCodec.decode(event),
  }));
  const projections = (code.projections ?? []).map((projection): Reader => ({
    kind: 'projection',
    name: projection.name,
    types: versionsOf(projection.definition.events),
    categories: projection.categories,
    decode: (event) => projection.decode(event),
  }));
  return [...aggregates, ...projections];
}

/**
 * Checks that every stored event the code reads still decodes with it.
 *
 * @example
 * ```ts
 * const report = await checkSchemas(store, { aggregates: [bankAccount], projections: [balances] }, { full: true });
 * if (!report.ok) process.exitCode = 1;
 * ```
 */
export async function checkSchemas(store: EventStore, code: SchemaCheckCode, options: SchemaCheckOptions = {}): Promise<SchemaCheckReport> {
  const { sample = 1000, full = false, examples = 3 } = parseInput(optionsSchema, options, 'options') ?? {};
  const kinds = await storedKinds(store);
  const readers = readersOf(code);
  const results: SchemaCheckResult[] = [];
  for (const reader of readers) {
    for (const [type, currentVersion] of reader.types) {
      const stored = new Map<number, number>();
      for (const kind of kinds) {
        if (kind.type !== type || (reader.categories && !reader.categories.includes(kind.category))) continue;
        stored.set(kind.schemaVersion, (stored.get(kind.schemaVersion) ?? 0) + kind.count);
      }
      for (const [schemaVersion, count] of [...stored].sort((a, b) => a[0] - b[0])) {
        const selection = { type, schemaVersion, categories: reader.categories };
        const result: SchemaCheckResult = { reader: { kind: reader.kind, name: reader.name }, type, schemaVersion, currentVersion, stored: count, checked: 0, failed: 0, examples: [] };
        const pages = full ? everyEvent(store, selection) : [await sampledEvents(store, selection, count, sample)];
        for await (const page of pages) {
          for (const event of page) decodeInto(result, reader, event, examples);
        }
        results.push(result);
      }
    }
  }
  return { ok: results.every((result) => result.failed === 0), full, results, unhandled: unhandledKinds(kinds, readers, code) };
}

function decodeInto(result: SchemaCheckResult, reader: Reader, event: RecordedEvent, examples: number): void {
  result.checked++;
  try {
    reader.decode(event);
  } catch (error) {
    result.failed++;
    if (result.examples.length >= examples) return;
    // By its stable code, not instanceof: the code checked may load its own copy of Annals
    // (a config importing 'annals' while the CLI runs from another install).
    const schemaError = (error as { code?: unknown } | null)?.code === ErrorCodes.eventSchema ? (error as EventSchemaError) : undefined;
    result.examples.push({
      globalPosition: event.globalPosition,
      streamId: event.streamId,
      eventId: event.id,
      reason: schemaError?.reason ?? String(error),
      issues: schemaError?.issues ?? [],
    });
  }
}

function unhandledKinds(kinds: readonly StoredKind[], readers: readonly Reader[], code: SchemaCheckCode): StoredKind[] {
  const filters = [
    ...readers.map((reader) => ({ types: [...reader.types.keys()], categories: reader.categories })),
    ...(code.consumers ?? []).map((consumer) => ({ types: consumer.eventTypes, categories: consumer.categories })),
    ...(code.outboxes ?? []).map((outbox) => ({ types: outbox.filter.eventTypes, categories: outbox.filter.categories })),
  ];
  const handled = (kind: StoredKind) =>
    filters.some((filter) => (!filter.types || filter.types.includes(kind.type)) && (!filter.categories || filter.categories.includes(kind.category)));
  return kinds.filter((kind) => !kind.type.startsWith('annals.') && !handled(kind));
}
