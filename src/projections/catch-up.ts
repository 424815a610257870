import type { EventStore } from '../event-store/event-store.js';
import { globalPositionSchema } from '../event-store/read-options.js';
import { parseInput } from '../validation.js';
import { ProjectionStoppedError, ProjectionTimeoutError, ValidationError } from '../errors.js';
import type { AnyProjection } from './define-projection.js';
import { readyWithin } from '../consumers/catch-up.js';
import { readPartitions } from '../consumers/partitions.js';
import { readCurrentGenerations } from './generations.js';
import { countOwed } from './inline-pending.js';
import { runProjections, type RunProjectionsOptions } from './projection-worker.js';

export interface CatchUpOptions extends RunProjectionsOptions {
  /** Give up after this long (default 60,000 ms). */
  timeoutMs?: number;
  /**
   * Process at least up to this global position, e.g. the `lastGlobalPosition` of your
   * last append (default: the newest event committed as of the call, which readers may
   * not see yet while an older appender's transaction is open: the call waits for it).
   */
  until?: bigint;
}

/**
 * Runs the projections until every one has processed every event committed before the
 * call (or up to `until`), and any rebuild its version asks for has switched, then stops.
 * An event committed before the call can still be invisible to readers while an older
 * transaction of this store is open (docs/global-log.md): the call waits for that
 * transaction, up to `timeoutMs`. For scripts, tests and one-off jobs; services run
 * `runProjections`.
 *
 * @throws ProjectionStoppedError when a partition stopped on a failing handler.
 * @throws ValidationError naming `projections[i].version` when a projection has no
 *   generation of the code's version (its live one is newer, or older with autoRebuild
 *   off): nothing here would process it.
 * @throws ProjectionTimeoutError when the head is not reached within `timeoutMs`.
 * @example
 * ```ts
 * await catchUpProjections(store, [likeCounts]);
 * ```
 */
export async function catchUpProjections(store: EventStore, projections: readonly AnyProjection[], options: CatchUpOptions = {}): Promise<void> {
  const { timeoutMs = 60_000, until, ...runOptions } = options;
  if (until !== undefined) parseInput(globalPositionSchema, until, 'options.until');
  const committed = await store.lastCommittedPosition();
  const target = until !== undefined && until > committed ? until : committed;
  const runner = runProjections(store, projections, { pollIntervalMs: 50, ...runOptions });
  const inline = new Set(runOptions.inline ?? []);
  const deadline = Date.now() + timeoutMs;
  try {
    if (!(await readyWithin(runner.ready, timeoutMs))) {
      throw new ProjectionTimeoutError(projections.map((p) => p.name), timeoutMs, 'the workers could not start (is the database reachable?)');
    }
    for (;;) {
      const behind = await whatIsBehind(store, projections, inline, target);
      if (behind.length === 0) return;
      if (Date.now() > deadline) {
        throw new ProjectionTimeoutError(projections.map((p) => p.name), timeoutMs, [...behind, await heldBackBy(store)].filter(Boolean).join('; '));
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await runner.stop();
  }
}

/** Who holds the log back, if anyone: often why a catch-up times out. */
async function heldBackBy(store: EventStore): Promise<string> {
  const holdback = await store.logHoldback().catch(() => null);
  if (!holdback) return '';
  return `the log is held back by pid ${holdback.pid} ('${holdback.applicationName}', ${holdback.state} for ${holdback.ageMs} ms): ${holdback.query.slice(0, 100)}`;
}

/** Descriptions of what has not reached `target` yet; empty when all is done. */
async function whatIsBehind(store: EventStore, projections: readonly AnyProjection[], inline: Set<string>, target: bigint): Promise<string[]> {
  const rows = await store.withTransaction(async (tx) => {
    // Generations, then their partitions: a checkpoint read is at least as recent as its
    // generation's status (checkpoints only move forward).
    const generations = await readCurrentGenerations(tx, projections.map((p) => p.name));
    const partitions = await readPartitions(tx, generations.map((g) => ({ consumer: g.projection, generation: g.generation })));
    const byKey = new Map(generations.map((g) => [`${g.projection}\u0000${g.generation}`, g]));
    return partitions.map((p) => {
      const { projection, status, version } = byKey.get(`${p.consumer}\u0000${p.generation}`)!;
      return { projection, generation: p.generation, status, version, partition: p.partition, position: p.position, stoppedError: p.stoppedError };
    });
  });
  const behind: string[] = [];
  for (const [index, projection] of projections.entries()) {
    const own = rows.filter((row) => row.projection === projection.name);
    // Workers leave generations of another code version alone (rolling deploys): with no
    // generation of this code's version, nothing here would process anything, and waiting
    // would prove nothing.
    if (own.length > 0 && !own.some((row) => row.version === projection.version)) {
      const live = own.find((row) => row.status === 'live');
      const rebuilding = own.find((row) => row.status === 'building');
      const hint =
        (live && live.version > projection.version) || (rebuilding && rebuilding.version > projection.version)
          ? 'run the newer code'
          : 'start a rebuild (annals projections rebuild) or leave autoRebuild on';
      const where = [live ? `live at version ${live.version}` : undefined, rebuilding ? `rebuilding to version ${rebuilding.version}` : undefined]
        .filter(Boolean)
        .join(', ');
      throw new ValidationError([
        { field: `projections[${index}].version`, reason: `'${projection.name}' is ${where}, not at this code's ${projection.version}; ${hint}` },
      ]);
    }
    for (const row of own.filter((r) => r.version === projection.version)) {
      if (row.stoppedError !== null) throw new ProjectionStoppedError(row.projection, row.partition, row.stoppedError);
    }
    const building = own.find((row) => row.status === 'building' && row.version === projection.version);
    if (building) {
      behind.push(`${projection.name}: generation ${building.generation} is still being rebuilt`);
      continue;
    }
    if (inline.has(projection.name)) {
      // Appended by code of another version while this one's generation was live: the
      // workers' sweep applies them (inline-pending.ts).
      const pending = await store.withTransaction((tx) => countOwed(tx, projection.name, projection.version), { appends: false });
      if (pending > 0) behind.push(`${projection.name}: ${pending} event(s) appended by code of another version still to apply`);
      continue;
    }
    for (const row of own.filter((r) => r.status === 'live' && r.version === projection.version)) {
      if (row.position < target) behind.push(`${projection.name} partition ${row.partition} at ${row.position} of ${target}`);
    }
  }
  return behind;
}
