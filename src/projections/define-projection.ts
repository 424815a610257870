import type { Kysely } from 'kysely';
import { z } from 'zod';
import { EventCodec } from '../event-schemas/event-codec.js';
import type { DomainEvent, EventSchemas } from '../event-schemas/versioned-event.js';
import type { RecordedEvent } from '../event-store/event-store.js';
import { partitionOfKey } from '../consumers/partition-key.js';
import { parseInput } from '../validation.js';
import { ValidationError } from '../errors.js';
import { identifierBytes, maxIdentifierBytes } from '../database/schema-name.js';

/**
 * An event as a projection handler sees it: its type and data in the current shape
 * (upcast and validated by the projection's event schemas), with where it sits in the log.
 */
export type ProjectedEvent<Events extends EventSchemas> = DomainEvent<Events> & {
  streamId: string;
  version: number;
  globalPosition: bigint;
  id: string;
  metadata: Record<string, unknown>;
  recordedAt: Date;
};

/** What a handler gets besides the events: the batch's transaction, aimed at its tables. */
export interface ProjectionContext {
  /**
   * Kysely on the batch's transaction, with table names resolved in the generation being
   * written (`db.insertInto('like_counts')` writes this generation's table). Everything
   * commits together with the checkpoint, or nothing does.
   */
  // Kysely<any>: the tables are the projection's own, declared by its `schema`.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly db: Kysely<any>;
  /** Raw SQL on the same transaction; `search_path` is the generation's schema. */
  query<Row = Record<string, unknown>>(text: string, parameters?: readonly unknown[]): Promise<Row[]>;
  /**
   * True while a rebuild replays history into a new generation. A handler with side
   * effects outside its tables (sending a notification) skips them then: they happened
   * when the event was first processed.
   */
  readonly replaying: boolean;
  /** Which generation and partition this batch belongs to. */
  readonly generation: number;
  readonly partition: number;
}

export interface ProjectionDefinition<Events extends EventSchemas> {
  /** Stable name: lower case letters, digits, `-` and `_`, at most 40 characters. */
  name: string;
  /**
   * The read model's columns holding personal data, per table, with the column naming
   * the data subject: `verifyErasure` and `annals privacy verify` check them
   * (docs/privacy.md). Rebuilding after `forget` rewrites them with redacted values.
   */
  personalData?: readonly PersonalColumns[];
  /**
   * Version of the projection's code. Bump it when a change to `schema` or a handler
   * means the read model must be rebuilt: workers then replay the log into a new
   * generation and switch to it when it has caught up (see `autoRebuild`).
   */
  version: number;
  /** The event types handled, with their schemas (upcast on read). Others are skipped. */
  events: Events;
  /** Only events of these stream categories (default: every category). */
  categories?: readonly string[];
  /**
   * Split the work into this many partitions by hashing `partitionKey`: each partition
   * has its own checkpoint and owner, so several workers process it in parallel while
   * the events of one key stay in order (default 1).
   */
  partitions?: number;
  /** What keeps its order across partitions (default: the event's stream id). */
  partitionKey?: (event: ProjectedEvent<Events>) => string;
  /**
   * Where readers find the live tables: a schema of views (default: the store's schema,
   * `:` and the name: `annals:like-counts`). Each generation's tables live in
   * `<readSchema>#g<generation>`. It may be a schema of your own: Annals replaces only
   * the views it created there (and refuses to take a name that is someone else's).
   * `public`, `information_schema` and `pg_*` are refused.
   */
  readSchema?: string;
  /**
   * Creates the read-model tables (with `db.schema`), unqualified: once per generation.
   * If it throws or a statement fails, the generation is not created and setup, the
   * workers' start or the rebuild fails with a ProjectionSchemaError naming this
   * projection and version, the original error as its `cause`.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  schema: (db: Kysely<any>) => Promise<void>;
  /** Applies one event. Give this or `applyBatch`. */
  apply?: (event: ProjectedEvent<Events>, context: ProjectionContext) => Promise<void>;
  /** Applies a batch of events in log order (fewer statements than one by one). */
  applyBatch?: (events: ProjectedEvent<Events>[], context: ProjectionContext) => Promise<void>;
  /**
   * Optional set-based fast path for replay: used instead of `applyBatch`/`apply` while a
   * rebuild replays history (large batches; side effects are never wanted then).
   */
  replayBatch?: (events: ProjectedEvent<Events>[], context: ProjectionContext) => Promise<void>;
}

/** Columns of one read-model table that hold personal data of the subject in `subject`. */
export interface PersonalColumns {
  table: string;
  subject: string;
  columns: readonly string[];
}

/** A projection as the runtime uses it: the definition, checked, with its event codec. */
export interface Projection<Events extends EventSchemas = EventSchemas> {
  readonly name: string;
  readonly version: number;
  readonly eventTypes: readonly string[];
  readonly categories: readonly string[] | undefined;
  readonly partitions: number;
  /** The read schema the definition names, if any; see readSchemaOf. */
  readonly readSchema: string | undefined;
  readonly definition: ProjectionDefinition<Events>;
  /** The event in its current shape, or an EventSchemaError. */
  decode(event: RecordedEvent): ProjectedEvent<Events>;
  partitionOf(event: ProjectedEvent<Events>): number;
}

/** An event of any projection (the runtime's view; handlers see their own types). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyProjectedEvent = ProjectedEvent<any>;

/** Any projection, whatever its events. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyProjection = Projection<any>;

const identifier = /^[a-z][a-z0-9_]*$/;
// Room for the generation suffix `#g<n>` (n up to 999,999) within Postgres' 63 bytes.
const maxReadSchemaBytes = 55;
const fn = (error = 'must be a function') => z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', { error });
const definitionSchema = z.object({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_-]*$/, { error: 'must start with a letter and hold only a-z, 0-9, - and _' })
    .max(40, { error: 'must be at most 40 characters' }),
  version: z.number().int({ error: 'must be a whole number' }).min(1, { error: 'must be >= 1' }),
  events: z.record(z.string(), z.unknown()).refine((events) => Object.keys(events).length > 0, { error: 'must name at least one event type' }),
  categories: z.array(z.string().min(1)).min(1, { error: 'must not be empty (leave it out for every category)' }).optional(),
  partitions: z.number().int().min(1, { error: 'must be >= 1' }).max(1024, { error: 'must be at most 1024' }).optional(),
  partitionKey: fn().optional(),
  readSchema: z
    .string()
    .regex(identifier, { error: 'must be a lower-case SQL identifier (a-z, 0-9, _)' })
    .max(maxReadSchemaBytes, { error: `must be at most ${maxReadSchemaBytes} characters` })
    .refine((name) => !reservedSchema(name), { error: 'must not be public, information_schema or pg_*: give the read model a schema of its own' })
    .optional(),
  schema: fn('must be a function creating the tables'),
  apply: fn().optional(),
  applyBatch: fn().optional(),
  replayBatch: fn().optional(),
});

/**
 * Defines a projection: a read model in Postgres tables, built from the global log by
 * workers (`runProjections`) or inline with each append.
 *
 * @throws ValidationError naming the field when the definition is malformed.
 * @example
 * ```ts
 * const likeCounts = defineProjection({
 *   name: 'like-counts',
 *   version: 1,
 *   events: likeEvents,
 *   schema: (db) => db.schema.createTable('like_counts')
 *     .addColumn('post_id', 'text', (c) => c.primaryKey())
 *     .addColumn('likes', 'integer', (c) => c.notNull()).execute(),
 *   apply: async (event, { db }) => {
 *     const delta = event.type === 'LikeCreated' ? 1 : -1;
 *     await db.insertInto('like_counts').values({ post_id: event.data.postId, likes: delta })
 *       .onConflict((oc) => oc.column('post_id').doUpdateSet({ likes: sql`like_counts.likes + ${delta}` }))
 *       .execute();
 *   },
 * });
 * ```
 */
export function defineProjection<Events extends EventSchemas>(definition: ProjectionDefinition<Events>): Projection<Events> {
  const checked = parseInput(definitionSchema, definition, 'projection');
  if (!checked.apply && !checked.applyBatch) {
    throw new ValidationError([{ field: 'projection.apply', reason: 'give apply or applyBatch' }]);
  }
  const codec = new EventCodec(definition.events);
  const partitions = checked.partitions ?? 1;
  const key = definition.partitionKey ?? ((event: ProjectedEvent<Events>) => event.streamId);
  return {
    name: checked.name,
    version: checked.version,
    eventTypes: Object.keys(definition.events),
    categories: checked.categories,
    partitions,
    readSchema: checked.readSchema,
    definition,
    decode(event) {
      return { ...event, ...codec.decode(event) } as ProjectedEvent<Events>;
    },
    partitionOf(event) {
      return partitions === 1 ? 0 : partitionOfKey(key(event), partitions);
    },
  };
}

/**
 * The schema of views where readers find `projection`'s live tables, for a store in
 * `storeSchema`: the definition's `readSchema`, else `<storeSchema>:<name>`. A projection
 * name holds no `:`, so the part after the last `:` tells the name and the rest the store:
 * two stores (or two projections) never get the same read schema, and none is ever a
 * `readSchema` a definition can give (those hold no `:`).
 *
 * @throws ValidationError when the name would be longer than Postgres keeps (the
 * generation schemas add `#g<n>` to it): give the projection a shorter `readSchema`.
 * @example
 * ```ts
 * const rows = await db.withSchema(readSchemaOf(store.schema, likeCounts)).selectFrom('like_counts').selectAll().execute();
 * ```
 */
export function readSchemaOf(storeSchema: string, projection: AnyProjection): string {
  const schema = projection.readSchema ?? `${storeSchema}:${projection.name}`;
  if (identifierBytes(schema) > maxReadSchemaBytes) {
    throw new ValidationError([
      {
        field: 'projection.readSchema',
        reason:
          `'${schema}' is ${identifierBytes(schema)} bytes, more than the ${maxReadSchemaBytes} a read schema may have ` +
          `(Postgres keeps ${maxIdentifierBytes}, and generations add '#g<n>'); give a shorter readSchema`,
      },
    ]);
  }
  return schema;
}

/**
 * The schema of one generation's tables. `#` is in no read schema Annals derives after
 * its last `:`, nor in any a definition may give, so a generation schema is never a read
 * schema and `#g` tells the generation from the rest.
 */
export function generationSchemaOf(readSchema: string, generation: number): string {
  const schema = `${readSchema}#g${generation}`;
  if (identifierBytes(schema) > maxIdentifierBytes) {
    throw new ValidationError([
      { field: 'generation', reason: `generation schema '${schema}' would be longer than the ${maxIdentifierBytes} bytes Postgres keeps` },
    ]);
  }
  return schema;
}

/** Schemas Postgres or every database owns: never a projection's. */
export function reservedSchema(name: string): boolean {
  return name === 'public' || name === 'information_schema' || name.startsWith('pg_');
}
