import type { ConsumerUnitKey } from '../consumers/partitions.js';
import type { EventStoreTransaction } from '../event-store/event-store.js';
import { table } from './generations.js';

/** What a batch of a projection's partition needs to know of its generation. */
export interface GenerationState {
  status: 'live' | 'building' | 'retired';
  /** The generation's schema: where its handlers write. */
  schemaName: string;
  /** The log's head when the generation was created. */
  replayUntil: bigint;
  /** The lowest checkpoint of the projection's live generation, when this is another one. */
  livePosition: bigint | null;
  /** What that live generation handles (null: every type, or every category). */
  liveTypes: string[] | null;
  liveCategories: string[] | null;
}

type Int8 = string | bigint;

/** The projection's generations that are not retired, newest first: what this code may process, or why not. */
export async function activeGenerations(tx: EventStoreTransaction, projection: string): Promise<{ generation: number; version: number; status: 'live' | 'building' }[]> {
  return tx.query(
    `SELECT generation, version, status FROM ${table(tx.schema, 'projection_generations')}
      WHERE projection = $1 AND status IN ('live', 'building') ORDER BY generation DESC`,
    [projection],
  );
}

export async function readGenerationState(tx: EventStoreTransaction, unit: ConsumerUnitKey): Promise<GenerationState | undefined> {
  const [row] = await tx.query<{
    status: GenerationState['status'];
    schema_name: string;
    replay_until: Int8;
    live_position: Int8 | null;
    live_types: string[] | null;
    live_categories: string[] | null;
  }>(
    `SELECT g.status, g.schema_name, g.replay_until,
            (SELECT min(lp.position) FROM ${table(tx.schema, 'consumer_partitions')} lp
              WHERE lp.consumer = g.projection AND lp.generation = live.generation) AS live_position,
            live.event_types AS live_types, live.categories AS live_categories
       FROM ${table(tx.schema, 'projection_generations')} g
       LEFT JOIN ${table(tx.schema, 'projection_generations')} live
         ON live.projection = g.projection AND live.status = 'live' AND live.generation <> g.generation
      WHERE g.projection = $1 AND g.generation = $2`,
    [unit.consumer, unit.generation],
  );
  if (!row) return undefined;
  return {
    status: row.status,
    schemaName: row.schema_name,
    replayUntil: BigInt(row.replay_until),
    livePosition: row.live_position === null ? null : BigInt(row.live_position),
    liveTypes: row.live_types,
    liveCategories: row.live_categories,
  };
}

/** The generation's status and the partition's checkpoint, as of this statement. */
export async function readPartitionCheckpoint(tx: EventStoreTransaction, unit: ConsumerUnitKey): Promise<{ status: GenerationState['status']; position: bigint } | undefined> {
  const [row] = await tx.query<{ status: GenerationState['status']; position: Int8 }>(
    `SELECT g.status, p.position FROM ${table(tx.schema, 'projection_generations')} g
       JOIN ${table(tx.schema, 'consumer_partitions')} p ON p.consumer = g.projection AND p.generation = g.generation
      WHERE g.projection = $1 AND g.generation = $2 AND p.partition = $3`,
    [unit.consumer, unit.generation, unit.partition],
  );
  return row && { status: row.status, position: BigInt(row.position) };
}
