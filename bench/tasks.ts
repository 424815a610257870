/**
 * The measurements. Each runs in a child process of its own (bench/child.ts; see
 * IsolatedProcess in isolated-process.ts for why) as a session: opened once with a task, then
 * asked to run steps. The figure scripts only orchestrate and report.
 */
import {
  openCommandSession,
  openFillSession,
  openLoadTimeSession,
  type CommandTask,
  type CommandWindowResult,
  type FillTask,
  type LoadTimeArgs,
  type LoadTimeResult,
  type LoadTimeTask,
} from './command-tasks.js';
import { openContestant, type ContestantName } from './contestants/index.js';
import { likeEvent, type Contestant, type LikeEvent } from './contestants/contestant.js';
import { collectGarbage, now, PeakMemory, runWorkers, type Target, type Throughput } from './harness.js';
import { openReplaySession, type ReplayStep, type ReplayStepResult, type ReplayTask } from './replay/replay-task.js';
import type { AppendWindow, Session } from './session.js';

/**
 * Appends to a fresh target. Each step is one measured window, so the parent can
 * interleave contestants window by window and none of them gets all the quiet moments.
 */
export interface AppendTask {
  kind: 'append';
  contestant: ContestantName;
  target: Target;
  /** Workers, each with one append in flight, and as many pooled connections. */
  concurrency: number;
  /** Events per stream and call. */
  eventsPerAppend: number;
  streams: number;
  /**
   * Streams per call, appended in one transaction (Contestant.appendInTransaction) when
   * above 1; default 1, a plain append.
   */
  streamsPerTransaction?: number;
  /** Annals from another checkout (bench/compare); default the working tree. */
  annalsRoot?: string;
}

/** Fills a target with `events` events for the read figure (one step, not measured). */
export interface LoadTask {
  kind: 'load';
  contestant: ContestantName;
  target: Target;
  events: number;
  eventsPerAppend: number;
  annalsRoot?: string;
}

/** Reads the whole global log of a loaded target once warm, sampling memory (one step). */
export interface ReadTask {
  kind: 'read';
  contestant: ContestantName;
  target: Target;
  batchSize: number;
  warmupEvents: number;
  maxMs: number;
  annalsRoot?: string;
}

export type Task = AppendTask | LoadTask | ReadTask | CommandTask | FillTask | LoadTimeTask | ReplayTask;

export interface ReadResult extends Throughput {
  baselineRssBytes: number;
  peakRssBytes: number;
  peakHeapBytes: number;
}

/** What a step of each kind of session takes and returns. */
export interface StepTypes {
  append: { args: AppendWindow; result: Throughput };
  load: { args: undefined; result: Throughput };
  read: { args: undefined; result: ReadResult };
  commands: { args: AppendWindow; result: CommandWindowResult };
  fill: { args: undefined; result: { seconds: number } };
  'load-time': { args: LoadTimeArgs; result: LoadTimeResult };
  replay: { args: ReplayStep; result: ReplayStepResult };
}

export async function openSession(task: Task): Promise<Session> {
  switch (task.kind) {
    case 'append':
      return openAppendSession(task);
    case 'load':
      return oneStep(task, (contestant) => load(contestant, task));
    case 'read':
      return oneStep(task, (contestant) => read(contestant, task));
    case 'commands':
      return openCommandSession(task);
    case 'fill':
      return openFillSession(task);
    case 'load-time':
      return openLoadTimeSession(task);
    case 'replay':
      return openReplaySession(task);
  }
}

/**
 * Worker w appends to streams w, w + concurrency, w + 2 * concurrency, ... in turn, so no
 * two appends ever race for one stream (no contestant pays for conflicts or retries) and
 * each tracks its streams' versions as a command handler would after reading them. With
 * `streamsPerTransaction` above 1, each call takes the worker's next streams in one
 * transaction.
 */
async function openAppendSession(task: AppendTask): Promise<Session> {
  const contestant = await openContestant(task.contestant, task.target, {
    maxConnections: task.concurrency,
    migrate: true,
    annalsRoot: task.annalsRoot,
  });
  const perCall = task.streamsPerTransaction ?? 1;
  if (perCall > 1 && !contestant.appendInTransaction) throw new Error(`${task.contestant} cannot append to several streams in one transaction`);
  // A call must not take one stream twice: its tracked version would be stale.
  if (task.streams < perCall * task.concurrency) throw new Error(`${task.streams} streams are too few for ${task.concurrency} workers x ${perCall} streams`);
  const versions = new Array<number>(task.streams).fill(0);
  const next = Array.from({ length: task.concurrency }, (_, worker) => worker);
  const nextStream = (worker: number) => {
    const stream = next[worker]!;
    const following = stream + task.concurrency;
    next[worker] = following < task.streams ? following : worker;
    return stream;
  };
  const work = async (worker: number) => {
    const streams = Array.from({ length: perCall }, () => nextStream(worker));
    const appends = streams.map((stream) => {
      const streamId = `post-${stream}`;
      return { streamId, events: Array.from({ length: task.eventsPerAppend }, () => likeEvent(streamId)), version: versions[stream]! };
    });
    if (perCall > 1) await contestant.appendInTransaction!(appends);
    else await contestant.append(appends[0]!.streamId, appends[0]!.events, appends[0]!.version);
    for (const stream of streams) versions[stream]! += task.eventsPerAppend;
    return perCall * task.eventsPerAppend;
  };
  return {
    step: (window) => runWorkers({ concurrency: task.concurrency, ...(window as AppendWindow), work }),
    close: () => contestant.close(),
  };
}

/** A session whose only step is `run`, on a contestant opened for the task. */
async function oneStep(task: LoadTask | ReadTask, run: (contestant: Contestant) => Promise<unknown>): Promise<Session> {
  // Loading writes through two connections; a reader needs one.
  const maxConnections = task.kind === 'load' ? 2 : 1;
  const contestant = await openContestant(task.contestant, task.target, {
    maxConnections,
    migrate: task.kind === 'load',
    annalsRoot: task.annalsRoot,
  });
  return { step: () => run(contestant), close: () => contestant.close() };
}

/** Two workers append `eventsPerAppend` events per call, each call to a new stream. */
async function load(contestant: Contestant, task: LoadTask): Promise<Throughput> {
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
}

/**
 * Reads the first `warmupEvents` (JIT, plan and buffer caches), then the whole log with
 * memory sampled after every page. One read per process, so the process's RSS
 * high-water mark is this reader's.
 */
async function read(contestant: Contestant, task: ReadTask): Promise<ReadResult> {
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
  return { events, seconds, eventsPerSecond: events / seconds, baselineRssBytes, peakRssBytes, peakHeapBytes };
}
