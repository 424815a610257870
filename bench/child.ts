/**
 * Entry of the child process runIsolated (harness.ts) forks for each measurement: runs
 * the task given as JSON in argv[2] and sends back its result over IPC.
 */
import { runTask, type Task } from './tasks.js';

const task = JSON.parse(process.argv[2] ?? '') as Task;

try {
  const result = await runTask(task);
  process.send?.({ ok: true, result });
  process.exitCode = 0;
} catch (error) {
  process.send?.({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exitCode = 1;
} finally {
  // Every pool is closed by the task; disconnecting the IPC channel lets the process end.
  process.disconnect?.();
}
