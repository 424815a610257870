/**
 * The projection figures of a comparison (bench/compare) as a task run in a child process
 * of its own (tasks.ts dispatches here), so that each version of Annals runs alone in its
 * process: loading the like workload into a schema with that version's store, or
 * catching a projection up over it and rebuilding it (annals-replay.ts).
 */
import { databaseUrl, type Throughput } from '../harness.js';
import type { Session } from '../session.js';
import { likeCountsNamed, measureAnnalsReplay, type ReplayThroughput } from './annals-replay.js';
import { expectedLikeCounts, type LikeWorkloadOptions } from './events.js';
import { loadAnnalsLikes } from './raw-sql-replay.js';

export interface ReplayTask {
  kind: 'replay';
  contestant: 'annals';
  /** The store's schema: created and loaded by a 'load' step, read by 'measure' steps. */
  target: { schema: string };
  workload: LikeWorkloadOptions;
  /** Annals from another checkout (bench/compare); default the working tree. */
  annalsRoot?: string;
}

export type ReplayStep =
  /**
   * Sets up the like-counts projection under each of `projections` on the empty log, so
   * that their first generations are live from its start, then loads the workload.
   */
  | { action: 'load'; projections: string[] }
  /** Catches the projection `name` up (live batches), then rebuilds it at version 2. */
  | { action: 'measure'; name: string; catchUpBatchSize?: number };

export type ReplayStepResult = Throughput | ReplayThroughput;

export async function openReplaySession(task: ReplayTask): Promise<Session> {
  const { schema } = task.target;
  let expected: Map<string, number> | undefined;
  return {
    async step(args) {
      const step = args as ReplayStep;
      if (step.action === 'load') {
        await setUpProjections(schema, step.projections, task.annalsRoot);
        return loadAnnalsLikes({ schema, workload: task.workload, annalsRoot: task.annalsRoot });
      }
      expected ??= expectedLikeCounts(task.workload);
      return measureAnnalsReplay({ schema, expected, name: step.name, catchUpBatchSize: step.catchUpBatchSize, annalsRoot: task.annalsRoot });
    },
    close: async () => {},
  };
}

async function setUpProjections(schema: string, names: readonly string[], annalsRoot: string | undefined): Promise<void> {
  const { annals } = await likeCountsNamed(annalsRoot);
  const store = annals.createEventStore({ connectionString: databaseUrl, maxConnections: 1 }, { schema });
  try {
    await store.migrate();
    for (const name of names) await annals.setupProjection(store, (await likeCountsNamed(annalsRoot, name)).projection);
  } finally {
    await store.close();
  }
}
