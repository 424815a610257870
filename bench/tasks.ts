/**
 * The measurements, each run by bench/child.ts in a process of its own (see runIsolated
 * in harness.ts for why). The figure scripts only orchestrate and report.
 */
import { openContestant, type ContestantName } from './contestants/index.js';
import { likeEvent, type LikeEvent } from './contestants/contestant.js';
import { collectGarbage, now, PeakMemory, runWorkers, type Target, type Throughput } from './harness.js';

/** Appends for a fixed window to a fresh target; the result is events per second. */
export interface AppendTask {
  kind: 'append';
  contestant: ContestantName;
  target: Target;
  /** Workers, each with one append in flight, and as many pooled connections. */
  concurrency: number;
  eventsPerAppend: number;
  streams: number;
  warmupMs: number;
  measureMs: number;
}

/** Fills a target with `events` events for the read figure (not measured). */
export interface LoadTask {
  kind: 'load';
  contestant: ContestantName;
  target: Target;
  events: number;
  eventsPerAppend: number;
}

/** Reads the whole global log of a loaded target once warm, sampling memory. */
export interface ReadTask {
  kind: 'read';
  contestant: ContestantName;
  target: Target;
  batchSize: number;
  warmupEvents: number;
  maxMs: number;
}

export type Task = AppendTask | LoadTask | ReadTask;

export interface ReadResult extends Throughput {
  /** False when the reader hit maxMs before the end of the log. */
  complete: boolean;
  baselineRssBytes: number;
  peakRssBytes: number;
  peakHeapBytes: number;
}

export type TaskResult<T extends Task> = T extends ReadTask ? ReadResult : Throughput;

export async function runTask(task: Task): Promise<Throughput | ReadResult> {
  switch (task.kind) {
    case 'append':
      return runAppend(task);
    case 'load':
      return runLoad(task);
    case 'read':
      return runRead(task);
  }
}

/**
 * Worker w appends to streams w, w + concurrency, w + 2 * concurrency, ... in turn, so no
 * two appends ever race for one stream (no contestant pays for conflicts or retries) and
 * each tracks its streams' versions as a command handler would after reading them.
 */
async function runAppend(task: AppendTask): Promise<Throughput> {
  const contestant = await openContestant(task.contestant, task.target, { maxConnections: task.concurrency, migrate: true });
  try {
    const versions = new Array<number>(task.streams).fill(0);
    const next = Array.from({ length: task.concurrency }, (_, worker) => worker);
    return await runWorkers({
      concurrency: task.concurrency,
      warmupMs: task.warmupMs,
      measureMs: task.measureMs,
      work: async (worker) => {
        const stream = next[worker]!;
        const following = stream + task.concurrency;
        next[worker] = following < task.streams ? following : worker;
        const streamId = `post-${stream}`;
        const events = Array.from({ length: task.eventsPerAppend }, () => likeEvent(streamId));
        await contestant.append(streamId, events, versions[stream]!);
        versions[stream]! += events.length;
        return events.length;
      },
    });
  } finally {
    await contestant.close();
  }
}

/** Two workers append `eventsPerAppend` events per call to streams of their own. */
async function runLoad(task: LoadTask): Promise<Throughput> {
  const contestant = await openContestant(task.contestant, task.target, { maxConnections: 2, migrate: true });
  try {
    const calls = Math.ceil(task.events / task.eventsPerAppend);
    let call = 0;
    const started = now();
    const worker = async () => {
      for (let mine = call++; mine < calls; mine = call++) {
        const streamId = `post-${mine}`;
        const count = Math.min(task.eventsPerAppend, task.events - mine * task.eventsPerAppend);
        const events: LikeEvent[] = Array.from({ length: count }, () => likeEvent(streamId));
        await contestant.append(streamId, events, 0);
      }
    };
    await Promise.all([worker(), worker()]);
    const seconds = (now() - started) / 1000;
    return { events: task.events, seconds, eventsPerSecond: task.events / seconds };
  } finally {
    await contestant.close();
  }
}

async function runRead(task: ReadTask): Promise<ReadResult> {
  const contestant = await openContestant(task.contestant, task.target, { maxConnections: 1, migrate: false });
  try {
    await contestant.readAll({ batchSize: task.batchSize, limit: task.warmupEvents });
    collectGarbage();
    const baselineRssBytes = process.memoryUsage().rss;
    const memory = new PeakMemory().start();
    const started = now();
    const events = await contestant.readAll({
      batchSize: task.batchSize,
      deadline: started + task.maxMs,
      onPage: () => memory.sample(),
    });
    const seconds = (now() - started) / 1000;
    const { peakRssBytes, peakHeapBytes } = memory.stop();
    return {
      events,
      seconds,
      eventsPerSecond: events / seconds,
      complete: seconds * 1000 < task.maxMs,
      baselineRssBytes,
      peakRssBytes,
      peakHeapBytes,
    };
  } finally {
    await contestant.close();
  }
}
