import type { RecordedEvent } from '../event-store/event-store.js';
import type { EventRow } from '../event-store/read-statements.js';
import type { AnyProjectedEvent, AnyProjection, ProjectionContext } from './define-projection.js';

/**
 * Runs a projection's handlers over events already in log order: the replay fast path
 * while rebuilding (when the projection has one), else `applyBatch`, else `apply` one
 * event at a time.
 */
export async function applyEvents(
  projection: AnyProjection,
  events: AnyProjectedEvent[],
  context: ProjectionContext,
  replaying: boolean,
): Promise<void> {
  if (events.length === 0) return;
  const definition = projection.definition;
  if (replaying && definition.replayBatch) return definition.replayBatch(events, context);
  if (definition.applyBatch) return definition.applyBatch(events, context);
  for (const event of events) await definition.apply!(event, context);
}

/** An events row read by hand (pg gives int8 as string, PGlite as bigint) as a RecordedEvent. */
export function recordedEventOf(row: EventRow): RecordedEvent {
  return {
    streamId: row.stream_id,
    version: Number(row.stream_version),
    globalPosition: BigInt(row.global_position),
    id: row.event_id,
    type: row.type,
    schemaVersion: row.schema_version,
    data: row.data,
    metadata: row.metadata as Record<string, unknown>,
    recordedAt: row.recorded_at instanceof Date ? row.recorded_at : new Date(row.recorded_at),
  };
}
