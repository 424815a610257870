import { checkpointOf, lowestCheckpoint, type ConsumerUnitKey } from '../consumers/partitions.js';
import type { EventStoreTransaction } from '../event-store/event-store.js';
import { projectionTables } from './projection-tables.js';

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

/** The projection's generations that are not retired, newest first: what this code may process, or why not. */
export async function activeGenerations(tx: EventStoreTransaction, projection: string): Promise<{ generation: number; version: number; status: 'live' | 'building' }[]> {
  return projectionTables(tx)
    .selectFrom('projection_generations')
    .select(['generation', 'version', 'status'])
    .where('projection', '=', projection)
    .where('status', 'in', ['live', 'building'])
    .orderBy('generation', 'desc')
    .$narrowType<{ status: 'live' | 'building' }>()
    .execute();
}

export async function readGenerationState(tx: EventStoreTransaction, unit: ConsumerUnitKey): Promise<GenerationState | undefined> {
  const row = await projectionTables(tx)
    .selectFrom('projection_generations as g')
    .leftJoin('projection_generations as live', (join) =>
      join.onRef('live.projection', '=', 'g.projection').on('live.status', '=', 'live').onRef('live.generation', '<>', 'g.generation'),
    )
    .select((eb) => [
      'g.status',
      'g.schema_name',
      'g.replay_until',
      lowestCheckpoint(tx, { consumer: eb.ref('g.projection'), generation: eb.ref('live.generation') }).as('live_position'),
      'live.event_types as live_types',
      'live.categories as live_categories',
    ])
    .where('g.projection', '=', unit.consumer)
    .where('g.generation', '=', unit.generation)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    status: row.status,
    schemaName: row.schema_name,
    replayUntil: BigInt(row.replay_until),
    livePosition: row.live_position === null || row.live_position === undefined ? null : BigInt(row.live_position),
    liveTypes: row.live_types,
    liveCategories: row.live_categories,
  };
}

/** The generation's status and the partition's checkpoint, as of this statement. */
export async function readPartitionCheckpoint(tx: EventStoreTransaction, unit: ConsumerUnitKey): Promise<{ status: GenerationState['status']; position: bigint } | undefined> {
  const row = await projectionTables(tx)
    .selectFrom('projection_generations as g')
    .select((eb) => ['g.status', checkpointOf(tx, { consumer: eb.ref('g.projection'), generation: eb.ref('g.generation'), partition: unit.partition }).as('position')])
    .where('g.projection', '=', unit.consumer)
    .where('g.generation', '=', unit.generation)
    .executeTakeFirst();
  return row && row.position !== null && row.position !== undefined ? { status: row.status, position: BigInt(row.position) } : undefined;
}
