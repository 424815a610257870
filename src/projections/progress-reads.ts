import type { EventStoreTransaction } from '../event-store/event-store.js';
import { projectionTables } from './projection-tables.js';

/**
 * What a wait for a position reads of a projection's generations (waitForProjections):
 * the live one, with what it handles, and a rebuild under way; and, for an inline
 * projection, the oldest event its live generation still owes.
 */

/** A generation as a wait sees it: which events it handles, and how it splits them. */
export interface GenerationScope {
  generation: number;
  version: number;
  partitions: number;
  /** The event types and categories it handles (null: every one). */
  eventTypes: readonly string[] | null;
  categories: readonly string[] | null;
}

/** The live generation of `projection` and the one being built, if any. */
export async function readLiveAndBuilding(
  tx: EventStoreTransaction,
  projection: string,
): Promise<{ live: GenerationScope | undefined; building: GenerationScope | undefined }> {
  const rows = await projectionTables(tx)
    .selectFrom('projection_generations')
    .select(['generation', 'version', 'partitions', 'status', 'event_types', 'categories'])
    .where('projection', '=', projection)
    .where('status', 'in', ['live', 'building'])
    .execute();
  const scope = (status: 'live' | 'building'): GenerationScope | undefined => {
    const row = rows.find((r) => r.status === status);
    return row && { generation: row.generation, version: row.version, partitions: row.partitions, eventTypes: row.event_types, categories: row.categories };
  };
  return { live: scope('live'), building: scope('building') };
}

/** The lowest position a generation of an inline projection owes (appended by code of another version), or null. */
export async function lowestOwed(tx: EventStoreTransaction, projection: string, generation: number): Promise<bigint | null> {
  const row = await projectionTables(tx)
    .selectFrom('projection_inline_pending')
    .select((eb) => eb.fn.min('global_position').as('position'))
    .where('projection', '=', projection)
    .where('generation', '=', generation)
    .executeTakeFirst();
  return row?.position === null || row?.position === undefined ? null : BigInt(row.position);
}
