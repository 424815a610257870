/**
 * What the child process (child.ts) holds for the parent: a session opened with a task
 * (tasks.ts, command-tasks.ts), asked to run steps.
 */

/** A task opened in the child process; the parent types its steps with StepTypes. */
export interface Session {
  step(args: unknown): Promise<unknown>;
  close(): Promise<void>;
}

/** One measured window of an append session, after `warmupMs` of unmeasured appends. */
export interface AppendWindow {
  warmupMs: number;
  measureMs: number;
}
