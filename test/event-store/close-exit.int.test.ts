import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { killAllScripts, startScript } from '../setup/child-process.js';
import { testDatabaseUrl, useTestSchema } from '../setup/database.js';

// Issue 11, item 5: a process that closed its store and stopped its projection runner
// stayed up (for good, with a subscription of the store open). Whatever the order of the
// two, and on either backend, nothing the store or the runner opened may keep it alive.

const { schema } = useTestSchema('close_exit');
const script = fileURLToPath(new URL('./support/close-then-exit.ts', import.meta.url));
afterEach(() => killAllScripts());

describe.each(['postgres', 'pglite'])('a process on %s', (backend) => {
  it.each(['close-first', 'stop-first'])('exits on its own once it has released the store (%s)', { timeout: 180_000 }, async (order) => {
    let releasedAt = 0;
    const child = startScript(script, { BACKEND: backend, ORDER: order, DATABASE_URL: testDatabaseUrl, ANNALS_SCHEMA: schema }, (line) => {
      if (line === 'released') releasedAt = Date.now();
    });
    // Generous: a PGlite child compiles its WebAssembly and migrates first, which takes
    // tens of seconds on a loaded 2-core machine. What is tested is the exit after release.
    await child.waitUntil(() => releasedAt > 0, 150_000, (why) => `the script ${why} before releasing the store: ${child.stderr()}`);
    const timeout = new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 10_000).unref());
    const outcome = await Promise.race([child.exited, timeout]);
    expect(outcome, child.stderr()).toEqual({ code: 0, signal: null });
    expect(Date.now() - releasedAt).toBeLessThan(10_000);
  });
});
