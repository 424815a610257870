/**
 * Entry of the child process runIsolated (harness.ts) forks for each measurement: runs
 * the task given as JSON in argv[2] and sends back its result over IPC.
 */
import { runTask, type Task } from './tasks.js';

type Reply = { ok: true; result: unknown } | { ok: false; error: string };

let reply: Reply;
try {
  const task = JSON.parse(process.argv[2] ?? '') as Task;
  reply = { ok: true, result: await runTask(task) };
} catch (error) {
  reply = { ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  process.exitCode = 1;
}

// Every pool is closed by the task; once the reply is sent, closing the IPC channel
// leaves nothing to keep the process alive.
process.send?.(reply, () => process.disconnect?.());
