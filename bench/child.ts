/**
 * Entry of the child process that IsolatedProcess (isolated-process.ts) forks for each contestant:
 * opens the session of the task given as JSON in argv[2], then runs the steps the
 * parent asks for over IPC until it asks to close.
 *
 * Protocol: the child sends { id: 0 } once the session is open; the parent sends
 * { id, op: 'step' | 'close', args } and gets { id, ok, result | error } back.
 */
import type { Session } from './session.js';
import { openSession, type Task } from './tasks.js';

type Request = { id: number; op: 'step' | 'close'; args?: unknown };
type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

function send(reply: Reply, then?: () => void): void {
  process.send?.(reply, undefined, {}, then);
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

async function serve(task: Task): Promise<void> {
  let session: Session;
  try {
    session = await openSession(task);
  } catch (error) {
    // A half-opened session may hold a pool open: exit rather than wait for it.
    send({ id: 0, ok: false, error: describe(error) }, () => process.exit(1));
    return;
  }
  process.on('message', async (request: Request) => {
    try {
      const result = request.op === 'step' ? await session.step(request.args) : await session.close();
      // After close every pool is ended; closing the IPC channel lets the process exit.
      send({ id: request.id, ok: true, result }, request.op === 'close' ? () => process.disconnect?.() : undefined);
    } catch (error) {
      send({ id: request.id, ok: false, error: describe(error) });
    }
  });
  send({ id: 0, ok: true, result: 'ready' });
}

await serve(JSON.parse(process.argv[2] ?? '') as Task);
