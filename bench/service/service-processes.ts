/**
 * The parent's side of service-process.ts: forks a server (or the workers) in a Node
 * process of its own and talks to it over IPC, as IsolatedProcess (bench/isolated-process.ts)
 * does for the store's contestants.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { ServiceReply, ServiceRequest, ServiceRole } from './service-process.js';
import type { WorkCounts } from './work-counter.js';

const childScript = new URL('./service-process.ts', import.meta.url);

/** Extra Node flags for every child, as for the other figures' (`BENCH_CHILD_ARGV='--cpu-prof --cpu-prof-dir=/tmp/prof'`). */
const extraArgv = process.env.BENCH_CHILD_ARGV?.split(' ').filter(Boolean) ?? [];

type Pending = Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>;

export class ServiceProcess {
  /** The server's URL; 'ready' for the workers. */
  readonly address: string;
  readonly #child: ChildProcess;
  readonly #label: string;
  readonly #exited: Promise<number | null>;
  readonly #pending: Pending;
  #nextId = 1;

  private constructor(child: ChildProcess, label: string, exited: Promise<number | null>, address: string, pending: Pending) {
    this.#child = child;
    this.#label = label;
    this.#exited = exited;
    this.address = address;
    this.#pending = pending;
  }

  /** Forks the process and waits until it listens (or its workers run). */
  static async start(role: ServiceRole, label: string, timeoutMs = 180_000): Promise<ServiceProcess> {
    // process.execArgv carries tsx's loader, so the child runs TypeScript too.
    const child = fork(childScript, [JSON.stringify(role)], { execArgv: [...process.execArgv, ...extraArgv] });
    const pending: Pending = new Map();
    child.on('message', (reply: ServiceReply) => {
      const waiting = pending.get(reply.id);
      pending.delete(reply.id);
      if (reply.ok) waiting?.resolve(reply.result);
      else waiting?.reject(new Error(`${label}: ${reply.error}`));
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    void exited.then((code) => {
      for (const waiting of pending.values()) waiting.reject(new Error(`${label}: process exited (code ${code})`));
      pending.clear();
    });
    const address = (await request(child, pending, label, 0, undefined, timeoutMs)) as string;
    return new ServiceProcess(child, label, exited, address, pending);
  }

  /** What the server has done since it started: requests, statements, CPU time. */
  async counts(): Promise<WorkCounts> {
    return (await request(this.#child, this.#pending, this.#label, this.#nextId++, 'counts', 30_000)) as WorkCounts;
  }

  /** Stops the server (or workers), closes its store and pool, and waits for the process to end; kills it if it hangs. */
  async close(): Promise<void> {
    try {
      if (this.#child.connected) await request(this.#child, this.#pending, this.#label, this.#nextId++, 'close', 60_000);
    } finally {
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
      await this.#exited;
      clearTimeout(timer);
    }
  }
}

function request(
  child: ChildProcess,
  pending: Pending,
  label: string,
  id: number,
  op: ServiceRequest['op'] | undefined,
  timeoutMs: number,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${label}: no answer after ${timeoutMs} ms`));
      child.kill('SIGKILL');
    }, timeoutMs);
    const settle =
      <V>(done: (value: V) => void) =>
      (value: V) => {
        clearTimeout(timer);
        done(value);
      };
    pending.set(id, { resolve: settle(resolve), reject: settle(reject) });
    if (op) child.send({ id, op } satisfies ServiceRequest);
  });
}
