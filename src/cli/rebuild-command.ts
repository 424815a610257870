import pino from 'pino';
import { projectionStatus, startRebuild, type AnyProjection, type EventStore, type PartitionStatus, type RunProjectionsOptions } from '../index.js';
import { EtaEstimator, RateMeter } from './progress.js';
import { JsonRebuildOutput, TextRebuildOutput, type RebuildOutcome, type RebuildOutput, type RebuildProgress } from './rebuild-output.js';
import { startRunner } from './run-options.js';
import { listenForStop } from './signals.js';
import { ExitCodes } from './usage-error.js';

export interface RebuildOptions {
  /** Replay from after this global position (a new rebuild only; a resumed one keeps its start). */
  from?: bigint;
  /** Rebuild even though retention removed history the replay needs (`--accept-removed-history`). */
  acceptRemovedHistory?: boolean;
  /** How often the status is read (default 1,000 ms). */
  pollMs?: number;
  runner?: RunProjectionsOptions;
  /** JSON lines on stdout (start, progress per status read, result) instead of text and a bar (`--json`). */
  json?: boolean;
}

/**
 * `annals projections rebuild NAME [--from POSITION] [--json]`: starts a rebuild of the
 * projection into a new generation (or resumes the one under way for this version), runs
 * its worker in this process until the generation has caught up and readers were switched
 * to it, then exits 0. Progress goes to stderr (with `--json`, JSON lines on stdout);
 * SIGINT stops cleanly (exit 130) and the same command resumes.
 */
export async function rebuildCommand(
  store: EventStore,
  projection: AnyProjection,
  inline: readonly string[],
  options: RebuildOptions = {},
): Promise<number> {
  const output: RebuildOutput = options.json ? new JsonRebuildOutput(projection.name) : new TextRebuildOutput(projection.name);
  const rate = new RateMeter();
  const eta = new EtaEstimator();
  const startedAt = Date.now();
  let where = { share: 0, position: 0n, target: 0n };
  const progress = (): RebuildProgress => ({
    ...where,
    eventsReplayed: rate.total,
    eventsPerSecond: rate.perSecond(),
    etaMs: eta.remainingMs(),
    elapsedMs: Date.now() - startedAt,
  });
  let ended = false;
  const end = (outcome: RebuildOutcome) => {
    ended = true;
    output.finished(outcome, progress());
  };
  try {
    const before = await projectionStatus(store, [projection]);
    const under = before.partitions.find((p) => p.status === 'building' && p.version === projection.version);
    const generation = await startRebuild(store, projection, {
      ...(options.from === undefined ? {} : { from: options.from }),
      ...(options.acceptRemovedHistory ? { acceptRemovedHistory: true } : {}),
    });
    const resumed = under?.generation === generation.generation;
    where = { share: 0, position: generation.startedFrom, target: generation.replayUntil };
    output.started({
      projection: projection.name,
      version: generation.version,
      generation: generation.generation,
      status: generation.status,
      from: generation.startedFrom,
      resumed,
      ...(resumed && options.from !== undefined && options.from !== generation.startedFrom ? { ignoredFrom: options.from } : {}),
    });
    return await follow(generation);
  } catch (error) {
    if (!ended) end({ outcome: 'failed', error: error instanceof Error ? error.message : String(error) });
    throw error;
  }

  /** Runs the worker and reads the status until the generation is done, stopped, retired or interrupted. */
  async function follow(generation: { generation: number; status: 'live' | 'building' | 'retired' }): Promise<number> {
    const logger = pino({ name: 'annals', level: 'warn' }, { write: (line: string) => output.log(line) });
    let firstLag: number | undefined;
    let interrupted = false;
    const stop = listenForStop(() => {
      interrupted = true;
    });
    const runner = startRunner(store, [projection], {
      ...options.runner,
      inline: [...inline],
      logger,
      onBatch: (batch) => {
        if (batch.generation === generation.generation) rate.add(batch.events);
      },
    });
    let startError: unknown;
    runner.ready.catch((error: unknown) => (startError = error));
    const finish = async (outcome: RebuildOutcome, code: number) => {
      await runner.stop();
      end(outcome);
      return code;
    };
    try {
      for (;;) {
        if (startError !== undefined) throw startError;
        if (interrupted) return await finish({ outcome: 'interrupted' }, ExitCodes.interrupted);
        const status = await projectionStatus(store, [projection]);
        const mine = status.partitions.filter((p) => p.generation === generation.generation);
        if (mine.length === 0) return await finish({ outcome: 'retired' }, ExitCodes.failed);
        const stopped = mine.find((p) => p.stoppedError !== null);
        if (stopped) return await finish({ outcome: 'stopped', partition: stopped.partition, error: stopped.stoppedError ?? '' }, ExitCodes.failed);
        firstLag ??= Math.max(1, ...mine.map((p) => p.lag));
        const done = isDone(mine, generation.status);
        const share = done ? 1 : shareDone(mine, firstLag);
        eta.add(share);
        where = { share, position: mine.reduce((low, p) => (p.position < low ? p.position : low), mine[0]!.position), target: status.head };
        output.progress(progress(), done);
        if (done) return await finish({ outcome: generation.status === 'building' ? 'switched' : 'caught-up' }, ExitCodes.ok);
        // Redraw between status reads (events/s and ETA move); read the status about every pollMs.
        const pollMs = options.pollMs ?? 1000;
        for (let waited = 0; waited < pollMs && !interrupted && startError === undefined; waited += 250) {
          if (waited > 0) output.tick(progress());
          await Promise.race([new Promise((resolve) => setTimeout(resolve, Math.min(250, pollMs - waited))), stop.received]);
        }
      }
    } finally {
      stop.dispose();
      await runner.stop();
    }
  }
}

/** Done: a rebuild once readers were switched to it; a first generation once it has caught up. */
function isDone(partitions: readonly PartitionStatus[], createdAs: 'live' | 'building' | 'retired'): boolean {
  if (!partitions.every((p) => p.status === 'live')) return false;
  return createdAs === 'building' || partitions.every((p) => p.lag === 0);
}

/** The mean share done over the partitions: rebuildProgress while building, else the lag against the first one seen. */
function shareDone(partitions: readonly PartitionStatus[], firstLag: number): number {
  const shares = partitions.map((p) => (p.status === 'live' && p.lag === 0 ? 1 : (p.rebuildProgress ?? 1 - p.lag / firstLag)));
  return shares.reduce((a, b) => a + b, 0) / Math.max(1, shares.length);
}
