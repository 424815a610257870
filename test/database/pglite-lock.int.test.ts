import { spawn } from 'node:child_process';
import { mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createEventStore, StoreLockedError, type EventStore } from '../../src/index.js';
import { lockFileName } from '../../src/database/pglite-lock.js';
import { killAllScripts, startScript, type ScriptProcess } from '../setup/child-process.js';
import { annalsFromSources } from '../cli/support/cli.js';

// Issue 10, part 7: two stores on one PGlite directory each accepted `expectedVersion: 1`
// for the same stream, and after a reopen one acknowledged event was gone. One store per
// directory now; the second opener is told who holds it.

const root = resolve(import.meta.dirname, '../..');
const holderScript = join(root, 'test', 'database', 'support', 'pglite-holder.ts');

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await killAllScripts();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A fresh data directory (its real path), removed after the test. */
async function dataDir(): Promise<string> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'annals-lock-')));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A store on `dir`, closed after the test. */
function storeOn(dir: string, lockTimeoutMs?: number): EventStore {
  const store = createEventStore(lockTimeoutMs === undefined ? { pglite: dir } : { pglite: dir, lockTimeoutMs }, { schema: 'annals' });
  cleanups.push(() => store.close());
  return store;
}

interface HolderLine {
  ready?: true;
  pid?: number;
  error?: { name: string; code?: string; message: string; directory?: string; holder?: { pid: number; hostname: string; startedAt: string } };
}

/** Starts test/database/support/pglite-holder.ts on `dir`; resolves with its first line. */
async function startHolder(dir: string, env: Record<string, string> = {}): Promise<{ process: ScriptProcess; line: HolderLine }> {
  let line: HolderLine | undefined;
  const child = startScript(holderScript, { ANNALS_DATA_DIR: dir, ...env }, (text) => (line ??= JSON.parse(text) as HolderLine));
  // Generous: the holder boots PGlite (WebAssembly), slow on a loaded 2-core machine.
  await child.waitUntil(() => line !== undefined, 150_000, (why) => `the holder ${why} before a line: ${child.stderr()}`);
  return { process: child, line: line! };
}

const streamTypes = async (store: EventStore) => (await store.readStream('lock-1')).map((event) => event.type);

describe('one PGlite data directory, one store', { timeout: 240_000 }, () => {
  it('refuses a store while another process holds the directory, naming the directory and that process', async () => {
    const dir = await dataDir();
    const { process: holder, line } = await startHolder(dir);
    expect(line.ready).toBe(true);

    const store = storeOn(dir);
    const error = await store.migrate().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StoreLockedError);
    const locked = error as StoreLockedError;
    expect(locked.code).toBe('ANNALS_STORE_LOCKED');
    expect(locked.directory).toBe(dir);
    expect(locked.holder).toEqual({ pid: holder.child.pid, hostname: hostname(), startedAt: expect.any(String) });
    expect(Date.parse(locked.holder.startedAt)).toBeLessThanOrEqual(Date.now());
    expect(locked.message).toContain(dir);
    expect(locked.message).toContain(`process ${holder.child.pid} on ${hostname()}`);
  });

  it('refuses another process while this one holds it; after close() the next process opens it and sees the data', async () => {
    const dir = await dataDir();
    const first = storeOn(dir);
    await first.migrate();
    await first.appendToStream('lock-1', [{ type: 'Written', data: {} }], { expectedVersion: 'no_stream' });

    const refused = await startHolder(dir);
    expect(refused.line.error).toMatchObject({ name: 'StoreLockedError', code: 'ANNALS_STORE_LOCKED', directory: dir, holder: { pid: process.pid } });
    await refused.process.exited;

    await first.close();
    const second = await startHolder(dir);
    expect(second.line.ready).toBe(true);
    second.process.child.kill('SIGTERM');
    expect(await second.process.exited).toEqual({ code: 0, signal: null });

    // Both appends are there: nothing acknowledged was lost.
    expect(await streamTypes(storeOn(dir))).toEqual(['Written', 'Held']);
  });

  it('refuses a second store of this process until the first closes, then that one opens and sees the data', async () => {
    const dir = await dataDir();
    const first = storeOn(dir);
    await first.migrate();
    await first.appendToStream('lock-1', [{ type: 'Written', data: {} }], { expectedVersion: 'no_stream' });

    const second = storeOn(dir);
    await expect(second.appendToStream('lock-1', [{ type: 'Lost', data: {} }], { expectedVersion: 1 })).rejects.toMatchObject({
      code: 'ANNALS_STORE_LOCKED',
      directory: dir,
      holder: { pid: process.pid, hostname: hostname() },
      message: expect.stringContaining('already open in another store of this process'),
    });
    // Another path to the same directory is the same directory.
    const link = `${dir}-link`;
    await symlink(dir, link);
    cleanups.push(() => rm(link, { force: true }));
    await expect(storeOn(link).readStream('lock-1')).rejects.toBeInstanceOf(StoreLockedError);

    await first.close();
    expect(await streamTypes(second)).toEqual(['Written']);
    await second.appendToStream('lock-1', [{ type: 'Appended', data: {} }], { expectedVersion: 1 });
    expect(await streamTypes(second)).toEqual(['Written', 'Appended']);
  });

  it('lets exactly one of two openers at the same moment in, across processes and within one', async () => {
    const dir = await dataDir();
    const [a, b] = await Promise.all([startHolder(dir), startHolder(dir)]);
    const lines = [a.line, b.line];
    expect(lines.filter((line) => line.ready)).toHaveLength(1);
    const winner = lines.find((line) => line.ready)!;
    expect(lines.find((line) => line.error)?.error).toMatchObject({ code: 'ANNALS_STORE_LOCKED', holder: { pid: winner.pid } });

    const other = await dataDir();
    const results = await Promise.allSettled([storeOn(other).migrate(), storeOn(other).migrate()]);
    expect(results.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(results.find((result) => result.status === 'rejected')?.reason).toBeInstanceOf(StoreLockedError);
  });

  it('with lockTimeoutMs, waits for the holder to close', async () => {
    const dir = await dataDir();
    const first = storeOn(dir);
    await first.migrate();
    const waiting = storeOn(dir, 10_000);
    const started = Date.now();
    const read = waiting.readStream('lock-1');
    setTimeout(() => void first.close(), 300);
    expect(await read).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);

    // It gives up after the timeout, with the same error.
    const late = storeOn(dir, 200);
    await expect(late.migrate()).rejects.toBeInstanceOf(StoreLockedError);
  });

  it('takes over the lock of a process that was killed, and keeps its data', async () => {
    const dir = await dataDir();
    const { process: holder } = await startHolder(dir);
    holder.child.kill('SIGKILL');
    await holder.exited;
    expect(JSON.parse(await readFile(join(dir, lockFileName), 'utf8'))).toMatchObject({ pid: holder.child.pid });

    expect(await streamTypes(storeOn(dir))).toEqual(['Held']);
  });

  it('takes over a lock file naming a dead pid of this host, or this process pid from an earlier process', async () => {
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((resolvePromise) => dead.once('exit', resolvePromise));
    for (const pid of [dead.pid!, process.pid]) {
      const dir = await dataDir();
      await writeFile(join(dir, lockFileName), JSON.stringify({ pid, hostname: hostname(), startedAt: '2020-01-01T00:00:00.000Z' }));
      const store = storeOn(dir);
      await store.migrate();
      expect(JSON.parse(await readFile(join(dir, lockFileName), 'utf8'))).toMatchObject({ pid: process.pid });
      await store.close();
    }
  });

  it('does not take over a lock held on another host', async () => {
    const dir = await dataDir();
    const holder = { pid: 1, hostname: 'elsewhere.example', startedAt: '2020-01-01T00:00:00.000Z' };
    await writeFile(join(dir, lockFileName), JSON.stringify(holder));
    const error = (await storeOn(dir).migrate().catch((caught: unknown) => caught)) as StoreLockedError;
    expect(error).toBeInstanceOf(StoreLockedError);
    expect(error.holder).toEqual(holder);
    expect(error.message).toContain(join(dir, lockFileName)); // how to clear it once that process is gone
  });

  it('surfaces as the typed error from whichever operation comes first, and close() leaves the holder be', async () => {
    const dir = await dataDir();
    const first = storeOn(dir);
    await first.migrate();
    const lockFile = await readFile(join(dir, lockFileName), 'utf8');
    // createEventStore opens nothing: it cannot fail here.
    const operations: ((store: EventStore) => Promise<unknown>)[] = [
      (store) => store.migrate(),
      (store) => store.appendToStream('lock-1', [{ type: 'Lost', data: {} }]),
      (store) => store.readStream('lock-1'),
      (store) => store.readAll(),
      (store) => store.withTransaction(async () => {}),
      (store) => store.subscribeToAppends(() => {}),
    ];
    for (const operation of operations) {
      const store = createEventStore({ pglite: dir }, { schema: 'annals' });
      const error = await operation(store).catch((caught: unknown) => caught);
      expect(error?.constructor).toBe(StoreLockedError);
      await store.close();
    }
    expect(await readFile(join(dir, lockFileName), 'utf8')).toBe(lockFile);
    expect(await streamTypes(first)).toEqual([]);
  });

  it('releases the directory of a store that only listened, on close()', async () => {
    const dir = await dataDir();
    const listening = storeOn(dir);
    const subscription = await listening.subscribeToAppends(() => {});
    await subscription.close();
    await listening.close();
    await expect(readFile(join(dir, lockFileName))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('releases the lock when the process exits without closing the store', async () => {
    const dir = await dataDir();
    const { process: holder } = await startHolder(dir, { HOLDER_EXIT_WITHOUT_CLOSE: '1' });
    holder.child.kill('SIGTERM');
    expect(await holder.exited).toEqual({ code: 0, signal: null });
    await expect(readFile(join(dir, lockFileName))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('annals prints the holder in one line and exits 1', async () => {
    const dir = await dataDir();
    await storeOn(dir).migrate();
    const child = spawn(process.execPath, [...annalsFromSources, 'migrate'], {
      cwd: dir,
      env: { ...process.env, DATABASE_URL: '', ANNALS_DATA_DIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const code = await new Promise((resolvePromise) => child.once('close', resolvePromise));
    expect(code).toBe(1);
    expect(stderr).toMatch(new RegExp(`^annals: PGlite data directory ${dir} is in use by process ${process.pid} on .*\\n$`));
  });

  it("needs no lock for 'memory://'", async () => {
    const a = storeOn('memory://');
    const b = storeOn('memory://');
    await Promise.all([a.migrate(), b.migrate()]);
  });
});
