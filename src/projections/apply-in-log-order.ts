import { applyEvents } from './apply.js';
import type { AnyProjectedEvent, AnyProjection, ProjectionContext } from './define-projection.js';

/**
 * Applies `events` (in log order) with history and fresh events interleaved: each run of
 * consecutive history events as a replay (`replayBatch` when the projection has one,
 * `replaying` set), each run of fresh ones as live events, run after run, so the events
 * of a key stay in log order. A rebuild of an inline projection meets such batches: the
 * events the live generation still owes are fresh among history (inline-pending.ts).
 */
export async function applyInLogOrder(
  projection: AnyProjection,
  events: readonly AnyProjectedEvent[],
  isHistory: (event: AnyProjectedEvent) => boolean,
  context: ProjectionContext,
): Promise<void> {
  for (let start = 0; start < events.length; ) {
    const history = isHistory(events[start]!);
    let end = start + 1;
    while (end < events.length && isHistory(events[end]!) === history) end++;
    await applyEvents(projection, events.slice(start, end), { ...context, replaying: history }, history);
    start = end;
  }
}
