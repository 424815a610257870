import { lockConsumer } from '../consumers/lock-consumer.js';
import { ensurePartitions } from '../consumers/partitions.js';
import { quoteIdent } from '../database/quote-ident.js';
import type { EventStoreTransaction } from '../event-store/event-store.js';
import { generationSchemaOf, readSchemaOf, type AnyProjection } from './define-projection.js';
import { createGenerationSchema, dropGenerationSchema, pointViewsAt } from './read-schemas.js';
import { projectionContext } from './projection-context.js';

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
}

interface GenerationRow {
  projection: string;
  generation: number;
  version: number;
  partitions: number;
  schema_name: string;
  read_schema: string;
  status: GenerationStatus;
  started_from: string | bigint;
  replay_until: string | bigint;
}

const toGeneration = (row: GenerationRow): Generation => ({
  projection: row.projection,
  generation: row.generation,
  version: row.version,
  partitions: row.partitions,
  schemaName: row.schema_name,
  readSchema: row.read_schema,
  status: row.status,
  startedFrom: BigInt(row.started_from),
  replayUntil: BigInt(row.replay_until),
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
  const rows = await tx.query<GenerationRow>(
    `SELECT projection, generation, version, partitions, schema_name, read_schema, status, started_from, replay_until
       FROM ${table(tx.schema, 'projection_generations')} WHERE projection = $1 ORDER BY generation`,
    [projection],
  );
  return rows.map(toGeneration);
}

/** One generation of a projection, or undefined when it has none of that number. */
export async function readGeneration(tx: EventStoreTransaction, projection: string, generation: number): Promise<Generation | undefined> {
  const [row] = await tx.query<GenerationRow>(
    `SELECT projection, generation, version, partitions, schema_name, read_schema, status, started_from, replay_until
       FROM ${table(tx.schema, 'projection_generations')} WHERE projection = $1 AND generation = $2`,
    [projection, generation],
  );
  return row && toGeneration(row);
}

/** The generations of these projections that are not retired, by projection and generation. */
export async function readCurrentGenerations(tx: EventStoreTransaction, projections: readonly string[]): Promise<Generation[]> {
  const rows = await tx.query<GenerationRow>(
    `SELECT projection, generation, version, partitions, schema_name, read_schema, status, started_from, replay_until
       FROM ${table(tx.schema, 'projection_generations')} WHERE projection = ANY($1::text[]) AND status <> 'retired'
      ORDER BY projection, generation`,
    [projections],
  );
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
): Promise<Generation> {
  const [last] = await tx.query<{ generation: number | null }>(
    `SELECT max(generation) AS generation FROM ${table(tx.schema, 'projection_generations')} WHERE projection = $1`,
    [projection.name],
  );
  const generation = (last?.generation ?? 0) + 1;
  const readSchema = readSchemaOf(tx.schema, projection);
  const schemaName = generationSchemaOf(readSchema, generation);
  await createGenerationSchema(tx, projection.name, schemaName);
  const context = await projectionContext(tx, schemaName, { replaying: status === 'building', generation, partition: 0 });
  await projection.definition.schema(context.db);
  // The head a reader can see now: what this generation replays as history.
  const head = await tx.headPosition();
  await tx.query(
    `INSERT INTO ${table(tx.schema, 'projection_generations')}
       (projection, generation, version, partitions, schema_name, read_schema, status, started_from, live_since, replay_until, event_types, categories)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $7 = 'live' THEN now() END, $9, $10::text[], $11::text[])`,
    [
      projection.name,
      generation,
      projection.version,
      projection.partitions,
      schemaName,
      readSchema,
      status,
      from.toString(),
      head.toString(),
      [...projection.eventTypes],
      projection.categories ? [...projection.categories] : null,
    ],
  );
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
  };
}

/** Marks a generation retired (its tables are dropped by dropRetired, outside this transaction). */
export async function retire(tx: EventStoreTransaction, generation: Generation): Promise<void> {
  await tx.query(
    `UPDATE ${table(tx.schema, 'projection_generations')} SET status = 'retired', retired_at = now()
      WHERE projection = $1 AND generation = $2`,
    [generation.projection, generation.generation],
  );
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
    tx.query<{ generation: number; schema_name: string }>(
      `SELECT generation, schema_name FROM ${table(tx.schema, 'projection_generations')}
        WHERE projection = $1 AND status = 'retired' AND retired_at IS NOT NULL
          AND EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = schema_name)`,
      [projection],
    ),
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
