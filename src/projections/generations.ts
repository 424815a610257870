import { lockConsumer } from '../consumers/lock-consumer.js';
import { ensurePartitions } from '../consumers/partitions.js';
import { sql, type Selectable } from 'kysely';
import { quoteIdent } from '../database/quote-ident.js';
import { ProjectionSchemaError } from '../errors.js';
import type { EventStoreTransaction } from '../event-store/event-store.js';
import { generationSchemaOf, readSchemaOf, type AnyProjection } from './define-projection.js';
import { createGenerationSchema, dropGenerationSchema, pointViewsAt } from './read-schemas.js';
import { projectionContext } from './projection-context.js';
import { now, projectionTables, type ProjectionGenerationsTable } from './projection-tables.js';

/**
 * Generations: each rebuild of a projection fills a new set of tables (a Postgres schema
 * of its own) while the live set keeps serving reads; readers go through views in the
 * projection's read schema, and the switch replaces those views in one transaction.
 */

export type GenerationStatus = 'building' | 'live' | 'retired';

export interface Generation {
  projection: string;
  generation: number;
  version: number;
  partitions: number;
  schemaName: string;
  readSchema: string;
  status: GenerationStatus;
  startedFrom: bigint;
  /** The log's head when it was created: for a first generation, what it replays as history. */
  replayUntil: bigint;
  /** Written by each append's transaction (withInlineProjections), not by workers moving its checkpoints (migrations/0012). */
  appliedInline: boolean;
}

const generationColumns = ['projection', 'generation', 'version', 'partitions', 'schema_name', 'read_schema', 'status', 'started_from', 'replay_until', 'applied_inline'] as const;

const toGeneration = (row: Pick<Selectable<ProjectionGenerationsTable>, (typeof generationColumns)[number]>): Generation => ({
  projection: row.projection,
  generation: row.generation,
  version: row.version,
  partitions: row.partitions,
  schemaName: row.schema_name,
  readSchema: row.read_schema,
  status: row.status,
  startedFrom: BigInt(row.started_from),
  replayUntil: BigInt(row.replay_until),
  appliedInline: row.applied_inline,
});

export const table = (schema: string, name: string) => `${quoteIdent(schema)}.${quoteIdent(name)}`;

/**
 * Serializes the changes to one projection's generations (setup, rebuild start, switch)
 * across processes. Inline appenders, the sweep of what a live generation owes and the
 * batches of an inline build take it shared: a switch waits until every transaction that
 * applied to the old generation (or recorded what it owes) has finished (see inline.ts).
 * Advisory locks take no transaction id, so holding one does not hold back readers of
 * the global log.
 */
export async function lockProjection(tx: EventStoreTransaction, projection: string, mode: 'shared' | 'exclusive'): Promise<void> {
  await lockConsumer(tx, projection, mode);
}

/** lockProjection shared, for several projections in one statement (an inline append's path); the same key as lockConsumer. */
export async function lockProjections(tx: EventStoreTransaction, projections: readonly string[]): Promise<void> {
  if (projections.length === 0) return;
  await tx.query(
    `SELECT pg_advisory_xact_lock_shared(hashtext('annals.projection'), hashtext($1 || '.' || name)) FROM unnest($2::text[]) AS name`,
    [tx.schema, projections],
  );
}

export async function readGenerations(tx: EventStoreTransaction, projection: string): Promise<Generation[]> {
  const rows = await projectionTables(tx).selectFrom('projection_generations').select(generationColumns).where('projection', '=', projection).orderBy('generation').execute();
  return rows.map(toGeneration);
}

/** One generation of a projection, or undefined when it has none of that number. */
export async function readGeneration(tx: EventStoreTransaction, projection: string, generation: number): Promise<Generation | undefined> {
  const row = await projectionTables(tx)
    .selectFrom('projection_generations')
    .select(generationColumns)
    .where('projection', '=', projection)
    .where('generation', '=', generation)
    .executeTakeFirst();
  return row && toGeneration(row);
}

/** Every projection that has a generation (set up at least once), by name. */
export async function readProjectionNames(tx: EventStoreTransaction): Promise<string[]> {
  const rows = await projectionTables(tx).selectFrom('projection_generations').select('projection').distinct().orderBy('projection').execute();
  return rows.map((row) => row.projection);
}

/** The generations of these projections that are not retired, by projection and generation. */
export async function readCurrentGenerations(tx: EventStoreTransaction, projections: readonly string[]): Promise<Generation[]> {
  if (projections.length === 0) return [];
  const rows = await projectionTables(tx)
    .selectFrom('projection_generations')
    .select(generationColumns)
    .where('projection', 'in', [...projections])
    .where('status', '<>', 'retired')
    .orderBy('projection')
    .orderBy('generation')
    .execute();
  return rows.map(toGeneration);
}

/**
 * Creates generation n+1 of `projection`: its schema, its tables (the projection's
 * `schema` function), one checkpoint row per partition starting at `from`, and, for a
 * live generation, the read views.
 */
export async function createGeneration(
  tx: EventStoreTransaction,
  projection: AnyProjection,
  status: 'live' | 'building',
  from: bigint,
  options: { appliedInline?: boolean } = {},
): Promise<Generation> {
  const appliedInline = options.appliedInline === true;
  const last = await projectionTables(tx)
    .selectFrom('projection_generations')
    .select((eb) => eb.fn.max('generation').as('generation'))
    .where('projection', '=', projection.name)
    .executeTakeFirst();
  const generation = (last?.generation ?? 0) + 1;
  const readSchema = readSchemaOf(tx.schema, projection);
  const schemaName = generationSchemaOf(readSchema, generation);
  await createGenerationSchema(tx, projection.name, schemaName);
  const context = await projectionContext(tx, schemaName, { replaying: status === 'building', generation, partition: 0 });
  try {
    await projection.definition.schema(context.db);
  } catch (error) {
    // User code: without its name and version, a failing CREATE TABLE reads as the
    // store's own fault at every caller (setup, a worker's start, a rebuild; issue 13).
    throw new ProjectionSchemaError({ projection: projection.name, version: projection.version, generation }, error);
  }
  // The head a reader can see now: what this generation replays as history.
  const head = await tx.headPosition();
  await projectionTables(tx)
    .insertInto('projection_generations')
    .values({
      projection: projection.name,
      generation,
      version: projection.version,
      partitions: projection.partitions,
      schema_name: schemaName,
      read_schema: readSchema,
      status,
      started_from: from.toString(),
      live_since: status === 'live' ? now : null,
      replay_until: head.toString(),
      event_types: [...projection.eventTypes],
      categories: projection.categories ? [...projection.categories] : null,
      // Known from the start, so a reader never follows an inline generation by its checkpoints.
      applied_inline: appliedInline,
    })
    .execute();
  await ensurePartitions(tx, { consumer: projection.name, generation, partitions: projection.partitions, position: from });
  if (status === 'live') await pointViewsAt(tx, projection.name, readSchema, schemaName);
  await tx.query(`SET LOCAL search_path TO ${quoteIdent(tx.schema)}`);
  return {
    projection: projection.name,
    generation,
    version: projection.version,
    partitions: projection.partitions,
    schemaName,
    readSchema,
    status,
    startedFrom: from,
    replayUntil: head,
    appliedInline,
  };
}

/** Marks a generation retired (its tables are dropped by dropRetired, outside this transaction). */
export async function retire(tx: EventStoreTransaction, generation: Generation): Promise<void> {
  await projectionTables(tx)
    .updateTable('projection_generations')
    .set({ status: 'retired', retired_at: now })
    .where('projection', '=', generation.projection)
    .where('generation', '=', generation.generation)
    .execute();
}

/** Makes a built generation live (its views are pointed at by the caller, in the same transaction). */
export async function makeLive(tx: EventStoreTransaction, generation: Generation): Promise<void> {
  await projectionTables(tx)
    .updateTable('projection_generations')
    .set({ status: 'live', live_since: now })
    .where('projection', '=', generation.projection)
    .where('generation', '=', generation.generation)
    .execute();
}

/** Records the read schema of a projection's current generations (the code's `readSchema` changed). */
export async function setReadSchema(tx: EventStoreTransaction, projection: string, readSchema: string): Promise<void> {
  await projectionTables(tx)
    .updateTable('projection_generations')
    .set({ read_schema: readSchema })
    .where('projection', '=', projection)
    .where('status', '<>', 'retired')
    .execute();
}

/**
 * Drops the tables of retired generations. Readers still running a query on them hold
 * locks: the drop waits at most `lockTimeoutMs`, and what it cannot drop now is dropped
 * on a later call.
 */
export async function dropRetired(
  withTransaction: <T>(work: (tx: EventStoreTransaction) => Promise<T>) => Promise<T>,
  projection: string,
  lockTimeoutMs = 2000,
): Promise<void> {
  const retired = await withTransaction((tx) =>
    projectionTables(tx)
      .selectFrom('projection_generations')
      .select('schema_name')
      .where('projection', '=', projection)
      .where('status', '=', 'retired')
      .where('retired_at', 'is not', null)
      // Only those whose schema is still there: what a previous call dropped is done.
      .where(sql<boolean>`EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = schema_name)`)
      .execute(),
  );
  for (const { schema_name: schemaName } of retired) {
    await withTransaction(async (tx) => {
      await tx.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}`);
      await dropGenerationSchema(tx, projection, schemaName);
    }).catch(() => {
      // Busy (a long read on the old tables): left for the next call.
    });
  }
}
