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
