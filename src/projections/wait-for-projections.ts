import { z } from 'zod';
import { positionWatchOf, type ProbeResult, type WatchRound } from '../consumers/position-watch.js';
import type { EventStore } from '../event-store/event-store.js';
import { globalPositionSchema } from '../event-store/read-options.js';
import { ConsistencyTimeoutError } from '../errors/consistency-errors.js';
import { parseInput } from '../validation.js';
import type { AnyProjection } from './define-projection.js';
import { probeProjection } from './projection-progress.js';

export interface WaitForProjectionsOptions {
  /** Give up after this long (default 5,000 ms): ConsistencyTimeoutError. */
  timeoutMs?: number;
  /** Stops waiting when aborted (a request that timed out, a client gone): rejects with its reason. */
  signal?: AbortSignal;
  /**
   * Names of those of `projections` applied inline (withInlineProjections): their read
   * model is written with each append, so they have reached a position once their live
   * generation owes nothing up to it (a rolling deploy's other version records what it
   * owes). Without it, an inline projection is waited for as if workers wrote it.
   */
  inline?: readonly string[];
}

/** The default wait: a query that waits longer than this is better answered with a retryable error. */
export const defaultConsistencyTimeoutMs = 5000;

const optionsSchema = z
  .object({
    timeoutMs: z.number().int().positive().max(2 ** 31 - 1).optional(),
    signal: z.custom<AbortSignal>((value) => value instanceof AbortSignal, { error: 'must be an AbortSignal' }).optional(),
    inline: z.array(z.string()).optional(),
  })
  .optional();

const projectionsSchema = z.array(
  z.custom<AnyProjection>(
    (value) => typeof value === 'object' && value !== null && typeof (value as AnyProjection).name === 'string' && typeof (value as AnyProjection).decode === 'function',
    { error: 'must be a projection (defineProjection)' },
  ),
  { error: 'must be an array of projections' },
);

/**
 * Resolves once the live generation of every one of `projections` (what their read views
 * show) has processed the global log up to `position`: read your writes, with `position`
 * the `lastGlobalPosition` an append returned (or a command's). Waits on the log's
 * notifications (workers notify when a checkpoint moves), with a slow poll behind them;
 * every caller in this process waits on one LISTEN connection per store.
 *
 * A partition whose checkpoint is below the position but that has no event of its own up
 * to it (another type, another key) counts as done: a position with nothing for the
 * projection resolves at once.
 *
 * @throws ConsistencyTimeoutError (`ANNALS_CONSISTENCY_TIMEOUT`) past `timeoutMs`.
 * @throws ConsistencyRebuildingError (`ANNALS_CONSISTENCY_REBUILDING`), at once, when the
 *   projection has no live generation yet, or its live generation is behind and no worker
 *   of its version runs while a rebuild is filling the next one.
 * @throws ConsistencyStoppedError (`ANNALS_CONSISTENCY_STOPPED`), at once, when a partition
 *   with an event up to the position stopped on a failure before it.
 * @throws ConsistencyDeadLetteredError (`ANNALS_CONSISTENCY_DEAD_LETTERED`), as soon as an
 *   event of the write (the transaction that appended the event at `position`) is
 *   dead-lettered by a projection: the read model will not reflect it.
 * @throws ValidationError for a position that is not a bigint from 0 to 2^63 - 1, or bad options.
 * @example
 * ```ts
 * const { lastGlobalPosition } = await store.appendToStream('post-42', [like]);
 * await waitForProjections(store, [likeCounts], lastGlobalPosition, { timeoutMs: 2_000 });
 * // like_counts now counts that like
 * ```
 */
export async function waitForProjections(
  store: EventStore,
  projections: readonly AnyProjection[],
  position: bigint,
  options: WaitForProjectionsOptions = {},
): Promise<void> {
  parseInput(projectionsSchema, projections, 'projections');
  parseInput(globalPositionSchema, position, 'position');
  parseInput(optionsSchema, options, 'options');
  const { timeoutMs = defaultConsistencyTimeoutMs, signal, inline = [] } = options;
  if (projections.length === 0) return;
  const inlineNames = new Set(inline);
  const names = projections.map((projection) => projection.name);
  const probe = async (round: WatchRound): Promise<ProbeResult> => {
    const behind: { behind: string; consumers: string[] } = { behind: '', consumers: [] };
    for (const projection of projections) {
      const found = await probeProjection(round, projection, position, inlineNames.has(projection.name));
      if (found.kind === 'failed') return found;
      if (found.kind === 'behind') {
        behind.behind = behind.behind ? `${behind.behind}; ${found.behind}` : found.behind;
        behind.consumers.push(...found.consumers);
      }
    }
    return behind.consumers.length === 0 ? { kind: 'reached' } : { kind: 'behind', ...behind };
  };
  await positionWatchOf(store).wait(position, probe, {
    timeoutMs,
    signal,
    timeoutError: (last) =>
      new ConsistencyTimeoutError(last?.consumers ?? names, position, timeoutMs, last?.behind ?? 'their progress could not be read in that time'),
  });
}
