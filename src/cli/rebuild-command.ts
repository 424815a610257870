import pino from 'pino';
import { projectionStatus, startRebuild, type AnyProjection, type EventStore, type PartitionStatus, type RunProjectionsOptions } from '../index.js';
import { formatCount, formatDuration, formatPercent, truncate } from './output.js';
import { EtaEstimator, ProgressReporter, RateMeter, type ProgressLine } from './progress.js';
import { startRunner } from './run-options.js';
import { listenForStop } from './signals.js';
import { ExitCodes } from './usage-error.js';

export interface RebuildOptions {
  /** Replay from after this global position (a new rebuild only; a resumed one keeps its start). */
  from?: bigint;
  /** How often the status is read (default 1,000 ms). */
  pollMs?: number;
  runner?: RunProjectionsOptions;
}

/**
 * `annals projections rebuild NAME [--from POSITION]`: starts a rebuild of the projection
 * into a new generation (or resumes the one under way for this version), runs its worker
 * in this process until the generation has caught up and readers were switched to it,
 * then exits 0. Progress goes to stderr; SIGINT stops cleanly (exit 130) and the same
 * command resumes.
 */
export async function rebuildCommand(
  store: EventStore,
  projection: AnyProjection,
  inline: readonly string[],
  options: RebuildOptions = {},
): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const before = await projectionStatus(store, [projection]);
  const under = before.partitions.find((p) => p.status === 'building' && p.version === projection.version);
  const generation = await startRebuild(store, projection, options.from === undefined ? {} : { from: options.from });
  if (under?.generation === generation.generation) {
    const ignored = options.from !== undefined && options.from !== generation.startedFrom ? `; --from ${options.from} is ignored` : '';
    out(`resuming the rebuild of ${projection.name} into generation ${generation.generation} (started from position ${generation.startedFrom})${ignored}`);
  } else {
    const how = generation.status === 'live' ? ' (no live generation: it serves reads while it fills)' : '';
    out(`rebuilding ${projection.name} version ${generation.version} into generation ${generation.generation} from position ${generation.startedFrom}${how}`);
  }

  const progress = new ProgressReporter(process.stderr);
  const logger = pino({ name: 'annals', level: 'warn' }, { write: (line: string) => progress.writeAbove(line) });
  const rate = new RateMeter();
  const eta = new EtaEstimator();
  const startedAt = Date.now();
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

  const lineFor = (share: number): ProgressLine => ({
    label: `${projection.name} g${generation.generation}`,
    share,
    eventsPerSecond: rate.perSecond(),
    etaMs: eta.remainingMs(),
    elapsedMs: Date.now() - startedAt,
  });
  let share = 0;
  try {
    for (;;) {
      if (startError !== undefined) throw startError;
      if (interrupted) {
        progress.finish(lineFor(share));
        await runner.stop();
        process.stderr.write(`rebuild of ${projection.name} interrupted at ${formatPercent(share)}; run the same command again to resume it\n`);
        return ExitCodes.interrupted;
      }
      const status = await projectionStatus(store, [projection]);
      const mine = status.partitions.filter((p) => p.generation === generation.generation);
      if (mine.length === 0) {
        progress.finish();
        await runner.stop();
        process.stderr.write(`annals: generation ${generation.generation} of ${projection.name} was retired: another rebuild replaced it\n`);
        return ExitCodes.failed;
      }
      const stopped = mine.find((p) => p.stoppedError !== null);
      if (stopped) {
        progress.finish(lineFor(share));
        await runner.stop();
        process.stderr.write(
          `annals: partition ${stopped.partition} of ${projection.name} generation ${generation.generation} stopped: ${truncate(stopped.stoppedError ?? '', 300)}\n` +
            `fix the handler, then run annals projections resume ${projection.name} and this command again\n`,
        );
        return ExitCodes.failed;
      }
      firstLag ??= Math.max(1, ...mine.map((p) => p.lag));
      share = shareDone(mine, firstLag);
      eta.add(share);
      if (isDone(mine, generation.status)) {
        progress.finish(lineFor(1));
        await runner.stop();
        const elapsed = formatDuration(Date.now() - startedAt);
        out(
          generation.status === 'building'
            ? `switched ${projection.name} to generation ${generation.generation}: ${formatCount(rate.total)} events replayed here in ${elapsed}`
            : `${projection.name} generation ${generation.generation} has caught up: ${formatCount(rate.total)} events in ${elapsed}`,
        );
        return ExitCodes.ok;
      }
      // Redraw between status reads (events/s and ETA move); read the status about every pollMs.
      const pollMs = options.pollMs ?? 1000;
      for (let waited = 0; waited < pollMs && !interrupted && startError === undefined; waited += 250) {
        progress.update(lineFor(share));
        await Promise.race([new Promise((resolve) => setTimeout(resolve, Math.min(250, pollMs - waited))), stop.received]);
      }
    }
  } finally {
    stop.dispose();
    await runner.stop();
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
