import { selectUnresolvedDeadLettersBetween } from '../consumers/dead-letters.js';
import { workersRunning } from '../consumers/leases.js';
import { clearUpTo, scanPartition, type ScanTarget } from '../consumers/partition-scan.js';
import { readPartitions } from '../consumers/partitions.js';
import type { ProbeResult, WatchRound } from '../consumers/position-watch.js';
import { ConsistencyDeadLetteredError, ConsistencyRebuildingError, ConsistencyStoppedError } from '../errors/consistency-errors.js';
import type { AnyProjection } from './define-projection.js';
import { lowestOwed, readLiveAndBuilding, type GenerationScope } from './progress-reads.js';

/**
 * Whether one projection's live generation (what its read views show) has processed a
 * global position, or why it never will: one probe of a round (position-watch.ts), its
 * reads shared with the round's other probes.
 *
 * Reached: every partition either has its checkpoint at or past the position, or holds
 * no event of its own (by the live generation's types, categories and partition key) from
 * its checkpoint up to the position, read through the store's bounded reads. Then the
 * read model reflects every event at or below it, unless one of the write's events was
 * dead-lettered (checked after the checkpoints: the dead letter commits with the move
 * past it).
 */

/**
 * A worker heartbeats every third of its lease (5 s by default): one seen within this is
 * taken to be running. A worker that stopped cleanly is gone at once (it deregisters).
 */
const workerSeenWithinMs = 15_000;

/** The first position of the write that appended the event at `position`: its transaction's (a position is the transaction's id << 20, plus the event's index in it; docs/global-log.md). */
export function writeStart(position: bigint): bigint {
  return (position >> 20n) << 20n;
}

export async function probeProjection(round: WatchRound, projection: AnyProjection, position: bigint, inline: boolean): Promise<ProbeResult> {
  const { tx } = round;
  const name = projection.name;
  const { live, building } = await round.memo(`generations:${name}`, () => readLiveAndBuilding(tx, name));
  if (!live) {
    if (!building) return { kind: 'behind', behind: `${name} has no generation yet (are its workers running?)`, consumers: [name] };
    const error = new ConsistencyRebuildingError({ projection: name, position, ...building }, 'it has no live generation yet: its first one is being built');
    return { kind: 'failed', error };
  }
  const behind = inline ? await owedUpTo(round, name, live, position) : await partitionsBehind(round, projection, live, position);
  if ('failed' in behind) return { kind: 'failed', error: behind.failed };
  const letter = await deadLetterOfWrite(round, name, live, position);
  if (letter) return { kind: 'failed', error: letter };
  if (behind.partitions.length === 0) return { kind: 'reached' };
  if (building) {
    const workers = await round.memo(`workers:${name}`, () => workersRunning(tx, name, workerSeenWithinMs));
    if (!workers.some((worker) => worker.version === live.version)) {
      const why = `its live generation (version ${live.version}) is behind (${behind.partitions.join('; ')}) and no worker of version ${live.version} runs`;
      return { kind: 'failed', error: new ConsistencyRebuildingError({ projection: name, position, ...building }, why) };
    }
  }
  const head = await round.memo('head', () => tx.headPosition());
  const hidden = head < position ? `; readers see the log only up to ${head} (an older transaction of the store is open, or the position is not committed)` : '';
  return { kind: 'behind', behind: `${behind.partitions.join('; ')}${hidden}`, consumers: [name] };
}

type Behind = { partitions: string[] } | { failed: Error };

/** The live generation's partitions that have not processed their own events up to `position`. */
async function partitionsBehind(round: WatchRound, projection: AnyProjection, live: GenerationScope, position: bigint): Promise<Behind> {
  const { tx } = round;
  const name = projection.name;
  const partitions = await round.memo(`partitions:${name}:${live.generation}`, () => readPartitions(tx, [{ consumer: name, generation: live.generation }]));
  const behind: string[] = [];
  for (const partition of partitions) {
    if (partition.position >= position) continue;
    // Read after the checkpoints: everything up to it is what readAll returns from here on.
    const head = await round.memo('head', () => tx.headPosition());
    const scan = await round.memo(`scan:${name}:${live.generation}:${partition.partition}:${partition.position}`, () =>
      scanPartition(tx, { after: partition.position, until: round.highest, head, ...scopeOf(projection, live, partition.partition) }),
    );
    if (clearUpTo(scan, position)) continue;
    if (partition.stoppedError !== null) {
      return { failed: new ConsistencyStoppedError({ projection: name, partition: partition.partition, position }, partition.stoppedError) };
    }
    behind.push(`${name} partition ${partition.partition} at ${partition.position}`);
  }
  return { partitions: behind };
}

/**
 * An inline projection's live generation is written in each append's transaction, by
 * code of its version; code of another version records the events it owes instead, and
 * the workers' sweep applies them (inline-pending.ts). Reached when it owes nothing up to
 * the position.
 */
async function owedUpTo(round: WatchRound, name: string, live: GenerationScope, position: bigint): Promise<Behind> {
  const owed = await round.memo(`owed:${name}:${live.generation}`, () => lowestOwed(round.tx, name, live.generation));
  return { partitions: owed !== null && owed <= position ? [`${name} still owes the event at ${owed} (appended by code of another version)`] : [] };
}

/** The dead letter of an event of the write at `position` in the live generation, as the error to answer with. */
async function deadLetterOfWrite(round: WatchRound, name: string, live: GenerationScope, position: bigint): Promise<Error | undefined> {
  const letters = await round.memo(`dead-letters:${name}:${live.generation}`, () =>
    selectUnresolvedDeadLettersBetween(round.tx, { consumer: name, generation: live.generation, from: writeStart(round.lowest), to: round.highest }),
  );
  const letter = letters.find((l) => l.globalPosition >= writeStart(position) && l.globalPosition <= position);
  if (!letter) return undefined;
  return new ConsistencyDeadLetteredError(
    { projection: name, position },
    { deadLetterId: letter.id, globalPosition: letter.globalPosition, eventType: letter.eventType, streamId: letter.streamId, error: letter.error },
  );
}

/**
 * Which events the live generation reads, and which of them may be this partition's. The
 * partition key is known only when the code's definition is the live generation's (same
 * version, same partition count); otherwise every event of its types counts as possibly
 * the partition's, and the wait lasts until its checkpoint passes it.
 */
function scopeOf(projection: AnyProjection, live: GenerationScope, partition: number): Pick<ScanTarget, 'types' | 'categories' | 'partition' | 'belongs' | 'all'> {
  const filter = { types: live.eventTypes, categories: live.categories };
  const ours = live.version === projection.version && live.partitions === projection.partitions;
  if (live.partitions === 1 || !ours) return { ...filter, all: true, belongs: () => true };
  if (!projection.definition.partitionKey) {
    // Postgres reads only the partition's events: the first one read is its own.
    return { ...filter, partition: { index: partition, count: live.partitions }, all: true, belongs: () => true };
  }
  return {
    ...filter,
    all: false,
    belongs: (event) => {
      try {
        return projection.partitionOf(projection.decode(event)) === partition;
      } catch {
        // An event the code cannot read: its partition will fail on it and dead-letter it
        // (or stop); until then, wait as if it were this one's.
        return true;
      }
    },
  };
}
