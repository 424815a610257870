/**
 * Projections for the admin schema: where each stands (projectionStatus, the read behind
 * `annals status`), starting a rebuild (startRebuild: blue/green, the workers fill the new
 * generation and switch readers to it once it caught up), and resuming stopped partitions.
 */
import { ValidationError } from '../../errors.js';
import type { EventStore } from '../../event-store/event-store.js';
import type { AnyProjection } from '../../projections/define-projection.js';
import { resumeProjection } from '../../projections/dead-letters.js';
import { readGenerations } from '../../projections/generations.js';
import { startRebuild } from '../../projections/rebuild.js';
import type { LogHoldback } from '../../event-store/event-store.js';
import type { PartitionStatus } from '../../projections/status.js';
import { parseClientPosition } from '../read-your-writes.js';
import { projectionsInStore, statusOf } from './projections-in-store.js';

type GenerationStatus = 'LIVE' | 'BUILDING';

export interface PartitionNode {
  partition: number;
  checkpoint: string;
  lag: number;
  oldestUnprocessedAgeMs: number | null;
  eventsPerSecond: number;
  eventsProcessed: number;
  retries: number;
  deadLettered: number;
  owner: string | null;
  heartbeatAt: string | null;
  leaseExpiresAt: string | null;
  stoppedError: string | null;
}

export interface GenerationNode {
  generation: number;
  version: number;
  status: GenerationStatus;
  lag: number;
  oldestUnprocessedAgeMs: number | null;
  rebuildProgress: number | null;
  partitions: PartitionNode[];
}

export interface ProjectionNode {
  name: string;
  codeVersion: number | null;
  live: GenerationNode | null;
  building: GenerationNode | null;
  pendingDeadLetters: number;
  skew: number | null;
  idleWorkers: { workerId: string; version: number }[];
}

export interface ProjectionsReport {
  head: string;
  logHeldBackBy: (Omit<LogHoldback, 'transactionStartedAt'> & { transactionStartedAt: string }) | null;
  projections: ProjectionNode[];
}

/** `projections`: every projection this service has the code of, and every other one set up in the store. */
export async function readProjectionsReport(store: EventStore, configured: readonly AnyProjection[]): Promise<ProjectionsReport> {
  const status = await statusOf(store, await projectionsInStore(store, configured));
  const holdback = status.logHeldBackBy;
  return {
    head: status.head.toString(),
    logHeldBackBy: holdback && { ...holdback, transactionStartedAt: holdback.transactionStartedAt.toISOString() },
    projections: status.projections.map((summary) => {
      const partitions = status.partitions.filter((p) => p.projection === summary.name);
      return {
        name: summary.name,
        codeVersion: configured.find((p) => p.name === summary.name)?.version ?? null,
        live: generationNode(partitions.filter((p) => p.status === 'live')),
        building: generationNode(partitions.filter((p) => p.status === 'building')),
        pendingDeadLetters: summary.pendingDeadLetters,
        skew: summary.skew,
        idleWorkers: summary.idleWorkers,
      };
    }),
  };
}

function generationNode(partitions: readonly PartitionStatus[]): GenerationNode | null {
  const first = partitions[0];
  if (!first) return null;
  const ages = partitions.map((p) => p.oldestUnprocessedAgeMs).filter((age): age is number => age !== null);
  const shares = partitions.map((p) => p.rebuildProgress).filter((share): share is number => share !== null);
  return {
    generation: first.generation,
    version: first.version,
    status: first.status === 'live' ? 'LIVE' : 'BUILDING',
    // A partition's lag counts every event of the projection's types after its
    // checkpoint, its own or not: the generation's is the largest, not the sum.
    lag: Math.max(...partitions.map((p) => p.lag)),
    oldestUnprocessedAgeMs: ages.length === 0 ? null : Math.max(...ages),
    rebuildProgress: shares.length === 0 ? null : shares.reduce((a, b) => a + b, 0) / shares.length,
    partitions: partitions.map((p) => ({
      partition: p.partition,
      checkpoint: p.position.toString(),
      lag: p.lag,
      oldestUnprocessedAgeMs: p.oldestUnprocessedAgeMs,
      eventsPerSecond: p.throughput,
      eventsProcessed: p.eventsProcessed,
      retries: p.retries,
      deadLettered: p.deadLettered,
      owner: p.owner,
      heartbeatAt: p.heartbeatAt?.toISOString() ?? null,
      leaseExpiresAt: p.leaseExpiresAt?.toISOString() ?? null,
      stoppedError: p.stoppedError,
    })),
  };
}

export interface RebuildNode {
  projection: string;
  generation: number;
  version: number;
  status: GenerationStatus;
  from: string;
  resumed: boolean;
}

/**
 * `rebuildProjection(name, from, acceptRemovedHistory)`: starts a rebuild of the projection by replay into a
 * new generation, or answers with the one under way for this version (`resumed`: its own
 * `from` stands). The projection's workers, wherever they run, fill it and switch readers
 * to it once it has caught up; the live generation serves reads until then.
 *
 * @throws ValidationError on `name` (no code for it here) or `from` (not a position).
 */
export async function rebuildProjection(
  store: EventStore,
  configured: readonly AnyProjection[],
  args: { name: string; from?: string | null; acceptRemovedHistory?: boolean | null },
): Promise<RebuildNode> {
  const projection = codeOf(configured, args.name, 'rebuild it');
  const from = parseClientPosition(args.from ?? undefined, 'from');
  const before = await store.withTransaction((tx) => readGenerations(tx, projection.name), { appends: false });
  const generation = await startRebuild(store, projection, { ...(from === undefined ? {} : { from }), ...(args.acceptRemovedHistory ? { acceptRemovedHistory: true } : {}) });
  return {
    projection: projection.name,
    generation: generation.generation,
    version: generation.version,
    status: generation.status === 'live' ? 'LIVE' : 'BUILDING',
    from: generation.startedFrom.toString(),
    resumed: before.some((g) => g.generation === generation.generation),
  };
}

/** `resumeProjection(name)`: lets the partitions a failure stopped run again; how many it resumed. @throws ValidationError on `name`. */
export async function resumeStoppedPartitions(store: EventStore, name: string): Promise<{ projection: string; partitions: number }> {
  if (name.trim() === '') throw new ValidationError([{ field: 'name', reason: 'must name a projection' }]);
  return { projection: name, partitions: await resumeProjection(store, name) };
}

/** The definition named `name`, which rebuilding or retrying needs. */
export function codeOf(configured: readonly AnyProjection[], name: string, toDo: string): AnyProjection {
  const projection = configured.find((p) => p.name === name);
  if (projection) return projection;
  const known = configured.map((p) => p.name).join(', ') || 'none';
  throw new ValidationError([{ field: 'name', reason: `this service has no code for projection '${name}' to ${toDo} with (it has: ${known})` }]);
}
