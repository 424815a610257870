/**
 * Runs each contestant in a Node process of its own (bench/child.ts) and talks to it over
 * IPC: the parent opens a session with a task, then asks for steps (measured windows, a
 * load, a read) and finally closes it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { StepTypes, Task } from './tasks.js';

const childScript = new URL('./child.ts', import.meta.url);

/** Extra Node flags for every contestant's process, e.g. `--cpu-prof` to profile them. */
const extraArgv = process.env.BENCH_CHILD_ARGV?.split(' ').filter(Boolean) ?? [];

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
type StepArgs<T extends Task> = StepTypes[T['kind']]['args'];
type StepResult<T extends Task> = StepTypes[T['kind']]['result'];

/**
 * A contestant running `task` in a Node process of its own (bench/child.ts). Isolation
 * matters here: Emmett's driver (dumbo) installs process-wide pg type parsers (int8 as
 * BigInt, its own JSON parser), which would silently change what Annals and raw pg pay
 * per row if they shared a process; and one contestant's JIT state, heap and RSS
 * high-water mark would carry over to the next.
 */
export class IsolatedProcess<T extends Task> {
  readonly #child: ChildProcess;
  readonly #label: string;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  #nextId = 1;
  #exited: Promise<number | null>;

  private constructor(task: T) {
    this.#label = `${task.kind} ${task.contestant}`;
    // process.execArgv carries tsx's loader, so the child runs TypeScript too.
    this.#child = fork(childScript, [JSON.stringify(task)], { execArgv: [...process.execArgv, '--expose-gc', ...extraArgv] });
    this.#child.on('message', (reply: Reply) => {
      const pending = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (reply.ok) pending?.resolve(reply.result);
      else pending?.reject(new Error(`${this.#label}: ${reply.error}`));
    });
    this.#exited = new Promise((resolve) => this.#child.once('exit', resolve));
    void this.#exited.then((code) => {
      for (const pending of this.#pending.values()) pending.reject(new Error(`${this.#label}: process exited (code ${code})`));
      this.#pending.clear();
    });
  }

  /** Forks the process and waits until its session is open. */
  static async start<T extends Task>(task: T, timeoutMs = 120_000): Promise<IsolatedProcess<T>> {
    const process = new IsolatedProcess(task);
    await process.#request(0, undefined, timeoutMs);
    return process;
  }

  step(args: StepArgs<T>, timeoutMs = 120_000): Promise<StepResult<T>> {
    return this.#request(this.#nextId++, { op: 'step', args }, timeoutMs) as Promise<StepResult<T>>;
  }

  /** Closes the session (its pools) and waits for the process to end; kills it if it hangs. */
  async close(): Promise<void> {
    try {
      if (this.#child.connected) await this.#request(this.#nextId++, { op: 'close' }, 30_000);
    } finally {
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
      await this.#exited;
      clearTimeout(timer);
    }
  }

  #request(id: number, message: { op: 'step' | 'close'; args?: unknown } | undefined, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${this.#label}: no answer after ${timeoutMs} ms`));
        this.#child.kill('SIGKILL');
      }, timeoutMs);
      const settle = <V>(done: (value: V) => void) => (value: V) => {
        clearTimeout(timer);
        done(value);
      };
      this.#pending.set(id, { resolve: settle(resolve), reject: settle(reject) });
      if (message) this.#child.send({ id, ...message });
    });
  }
}

/** Runs a one-step task (load, read) in a fresh process and closes it. */
export async function runIsolated<T extends Task>(task: T, args?: StepArgs<T>): Promise<StepResult<T>> {
  const child = await IsolatedProcess.start(task);
  try {
    return await child.step(args as StepArgs<T>);
  } finally {
    await child.close();
  }
}
