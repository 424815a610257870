/**
 * The command and load-time measurements, run in a contestant's own process like every
 * other task (tasks.ts dispatches here). The figure scripts, commands.ts and
 * load-time.ts, only orchestrate and report.
 */
import { openBankContestant, type BankContestantName } from './contestants/bank.js';
import { commandAmount, openAccount, type BankCommand, type BankContestant } from './contestants/bank-contestant.js';
import { collectGarbage, now, type Target } from './harness.js';
import { median } from './median.js';
import type { AppendWindow, Session } from './session.js';

/** Commands handled back to back by `concurrency` callers; each step is one measured window. */
export interface CommandTask {
  kind: 'commands';
  contestant: BankContestantName;
  target: Target;
  /** Callers, each with one command in flight, and as many pooled connections. */
  concurrency: number;
  /**
   * 1: every caller works on one hot account, a fresh one for every window, so the
   * stream a window starts with is the same for everyone. More: that many accounts,
   * opened once; caller w owns accounts w, w + concurrency, ... (no conflicts).
   */
  accounts: number;
  /** Annals from another checkout (bench/compare); default the working tree. */
  annalsRoot?: string;
}

/** Writes the streams of the load-time figure (one step, not measured). */
export interface FillTask {
  kind: 'fill';
  contestant: BankContestantName;
  target: Target;
  lengths: number[];
}

/** Loads the filled streams; each step times the loads of one length. */
export interface LoadTimeTask {
  kind: 'load-time';
  contestant: BankContestantName;
  target: Target;
}

export interface CommandWindowResult {
  /** Commands that completed in the measured window. */
  succeeded: number;
  /** Commands that failed in the measured window (after the handler's own retries), by kind. */
  failed: Record<string, number>;
  commandsPerSecond: number;
  /** Events in the hot account's stream when the window ended (one-account sessions). */
  streamLength?: number;
}

export interface LoadTimeArgs {
  length: number;
  /** Repeat the load until this much time has passed (at least once); the step's time is the median. */
  minMs: number;
}

export interface LoadTimeResult {
  ms: number;
  loads: number;
  /** What the load returned: every contestant must agree on both. */
  version: number;
  balance: number;
}

/** The account of the load-time figure with a stream of `length` events. */
export const filledAccount = (length: number) => `len-${length}`;

export async function openCommandSession(task: CommandTask): Promise<Session> {
  const contestant = await openBankContestant(task.contestant, task.target, task.concurrency, task.annalsRoot);
  const hot = task.accounts === 1;
  if (!hot) await eachWorker(task.concurrency, (worker) => openShare(contestant, worker, task));
  // Per caller: the next account it works on (many accounts).
  const next = Array.from({ length: task.concurrency }, (_, worker) => worker);
  const withdrawNext = new Array<boolean>(task.concurrency).fill(false);
  let windows = 0;
  const command = (worker: number): BankCommand => {
    // Each caller alternates deposits and withdrawals: the balance check runs on every
    // other command (and always passes, see openingDeposit).
    const withdraw = withdrawNext[worker]!;
    withdrawNext[worker] = !withdraw;
    return { type: withdraw ? 'WithdrawMoney' : 'DepositMoney', data: { amount: commandAmount } };
  };
  const ownAccount = (worker: number) => {
    const account = next[worker]!;
    const following = account + task.concurrency;
    next[worker] = following < task.accounts ? following : worker;
    return `acc-${account}`;
  };
  return {
    async step(window) {
      const hotAccount = hot ? `hot-${windows++}` : undefined;
      if (hotAccount) await openAccount(contestant, hotAccount);
      const result = await runCommands(task.concurrency, window as AppendWindow, contestant, (worker) =>
        contestant.handle(hotAccount ?? ownAccount(worker), command(worker)),
      );
      if (hotAccount) result.streamLength = (await contestant.load(hotAccount)).version;
      return result;
    },
    close: () => contestant.close(),
  };
}

async function openShare(contestant: BankContestant, worker: number, task: CommandTask): Promise<void> {
  for (let account = worker; account < task.accounts; account += task.concurrency) await openAccount(contestant, `acc-${account}`);
}

async function eachWorker(concurrency: number, work: (worker: number) => Promise<void>): Promise<void> {
  await Promise.all(Array.from({ length: concurrency }, (_, worker) => work(worker)));
}

/**
 * Like runWorkers (harness.ts), for commands: callers run `handle` back to back for
 * `warmupMs + measureMs`; commands that end inside the measured window are counted,
 * as successes or as failures by kind. A failed command is not repeated: the caller
 * moves on to its next command, as a request handler answering with an error would.
 */
async function runCommands(
  concurrency: number,
  window: AppendWindow,
  contestant: BankContestant,
  handle: (worker: number) => Promise<void>,
): Promise<CommandWindowResult> {
  const windowStart = now() + window.warmupMs;
  const windowEnd = windowStart + window.measureMs;
  let succeeded = 0;
  const failed: Record<string, number> = {};
  await eachWorker(concurrency, async (worker) => {
    while (now() < windowEnd) {
      let failure: string | undefined;
      try {
        await handle(worker);
      } catch (error) {
        failure = contestant.failureKind(error);
      }
      const done = now();
      if (done < windowStart || done > windowEnd) continue;
      if (failure === undefined) succeeded += 1;
      else failed[failure] = (failed[failure] ?? 0) + 1;
    }
  });
  return { succeeded, failed, commandsPerSecond: succeeded / (window.measureMs / 1000) };
}

export async function openFillSession(task: FillTask): Promise<Session> {
  // Filling appends one batch at a time: one connection is all it uses.
  const contestant = await openBankContestant(task.contestant, task.target, 1);
  return {
    async step() {
      const started = now();
      for (const length of task.lengths) await contestant.fill(filledAccount(length), length);
      return { seconds: (now() - started) / 1000 };
    },
    close: () => contestant.close(),
  };
}

export async function openLoadTimeSession(task: LoadTimeTask): Promise<Session> {
  const contestant = await openBankContestant(task.contestant, task.target, 1);
  return { step: (args) => timeLoads(contestant, args as LoadTimeArgs), close: () => contestant.close() };
}

async function timeLoads(contestant: BankContestant, { length, minMs }: LoadTimeArgs): Promise<LoadTimeResult> {
  // The previous length's garbage is not this one's to collect.
  collectGarbage();
  const times: number[] = [];
  const started = now();
  let loaded: { version: number; balance: number };
  do {
    const before = now();
    loaded = await contestant.load(filledAccount(length));
    times.push(now() - before);
  } while (now() - started < minMs);
  return { ms: median(times), loads: times.length, ...loaded };
}
