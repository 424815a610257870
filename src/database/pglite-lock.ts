import { readFileSync, unlinkSync } from 'node:fs';
import { mkdir, open, readFile, realpath, rm, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { sleep } from '../backoff.js';
import { StoreLockedError, type StoreLockHolder } from '../errors.js';

/**
 * One store per PGlite data directory. PGlite is a single Postgres backend with no
 * locking of its own: two stores on one directory (two processes, or the demo and the CLI
 * on `./.annals-data`) each accepted `expectedVersion: 1` for the same stream, and after a
 * reopen one acknowledged event was gone (issue 10). So the directory holds a lock file,
 * created atomically (`wx`), naming the process that holds it.
 */
export const lockFileName = 'annals.lock';
/** Held, also with `wx`, while a stale lock file is removed: see takeOver. */
const takeoverFileName = 'annals.lock.takeover';
const pollMs = 50;

export interface DataDirLock {
  /** The directory's real path. */
  readonly directory: string;
  /** Removes the lock file (if it is still ours). Idempotent. */
  release(): Promise<void>;
}

interface HeldLock {
  holder: StoreLockHolder;
  file: string;
  content: string;
}

/**
 * The directories this process holds, on `globalThis` rather than in this module: the lock
 * file names only the pid, so a second copy of this module (two installs of annals, a test
 * runner's module isolation) must see the same entries, or it would take our own lock
 * file for a dead process's and take it over.
 */
const registry: { held: Map<string, HeldLock>; exitHook: boolean } = ((globalThis as Record<symbol, unknown>)[
  Symbol.for('annals.pglite-locks')
] ??= { held: new Map(), exitHook: false }) as { held: Map<string, HeldLock>; exitHook: boolean };

const processStartedAt = new Date(Date.now() - process.uptime() * 1000).toISOString();

/**
 * The folder PGlite keeps `dataDir` in, or undefined when it keeps it in memory (or in a
 * browser store): the same reading of the prefix as PGlite's own.
 */
export function fileSystemPath(dataDir: string): string | undefined {
  if (dataDir.startsWith('file://')) return dataDir.slice('file://'.length) || undefined;
  if (dataDir === '' || /^(memory|idb|opfs-ahp|memfs2opfs):\/\//.test(dataDir)) return undefined;
  return dataDir;
}

/**
 * Takes the lock of the data directory `path` (creating the directory), waiting up to
 * `timeoutMs` for its holder to let go.
 *
 * @throws StoreLockedError naming the directory and the holder when it is still held.
 */
export async function lockDataDir(path: string, timeoutMs = 0): Promise<DataDirLock> {
  await mkdir(path, { recursive: true });
  const directory = await realpath(path);
  const file = join(directory, lockFileName);
  const holder: StoreLockHolder = { pid: process.pid, hostname: hostname(), startedAt: processStartedAt };
  const mine: HeldLock = { holder, file, content: `${JSON.stringify(holder)}\n` };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Claimed in the registry before the first await on the file: a second store of this
    // process opening at the same moment then waits for us instead of reading our lock
    // file, which names our own pid, as a stale one.
    const sameProcess = registry.held.get(directory);
    let other: StoreLockHolder | undefined = sameProcess?.holder;
    if (sameProcess === undefined) {
      registry.held.set(directory, mine);
      other = await tryLock(directory, mine).catch((error: unknown) => {
        registry.held.delete(directory);
        throw error;
      });
      if (other === undefined) return held(directory, mine);
      registry.held.delete(directory);
    }
    if (Date.now() >= deadline) {
      throw new StoreLockedError(directory, other!, { lockFile: file, sameProcess: sameProcess !== undefined });
    }
    await sleep(Math.min(pollMs, deadline - Date.now()));
  }
}

function held(directory: string, mine: HeldLock): DataDirLock {
  installExitHook();
  let released: Promise<void> | undefined;
  return {
    directory,
    release: () =>
      (released ??= (async () => {
        // The file goes first: a store of this process waiting for the directory must not
        // find it unregistered while the file still names our pid.
        if ((await readFile(mine.file, 'utf8').catch(() => undefined)) === mine.content) await rm(mine.file, { force: true });
        if (registry.held.get(directory) === mine) registry.held.delete(directory);
      })()),
  };
}

/** Creates the lock file, or returns the live process that holds it. */
async function tryLock(directory: string, mine: HeldLock): Promise<StoreLockHolder | undefined> {
  for (;;) {
    if (await createExclusive(mine.file, mine.content)) return undefined;
    const content = await readFile(mine.file, 'utf8').catch(ignoreMissing);
    if (content === undefined) continue; // released in between: try again
    const holder = parseHolder(content);
    if (holder === undefined && !(await olderThan(mine.file, 2000))) {
      // Created, not yet written: `wx` and the write are two calls.
      await sleep(10);
      continue;
    }
    if (holder !== undefined && isAlive(holder)) return holder;
    await takeOver(directory, mine, content);
  }
}

/**
 * Removes a stale lock file: its process is gone (or it is unreadable). Two openers may
 * find the same stale file; were both to unlink and recreate, the second could remove the
 * first one's fresh lock. So removal happens under a second `wx` file, and only if the lock
 * file still holds the stale content. A takeover file left by a process that died in these
 * few milliseconds is removed once it is 10 s old.
 */
async function takeOver(directory: string, mine: HeldLock, stale: string): Promise<void> {
  const guard = join(directory, takeoverFileName);
  if (!(await createExclusive(guard, mine.content))) {
    if (await olderThan(guard, 10_000)) await rm(guard, { force: true });
    else await sleep(10);
    return;
  }
  try {
    if ((await readFile(mine.file, 'utf8').catch(ignoreMissing)) === stale) await unlink(mine.file).catch(ignoreMissing);
  } finally {
    await rm(guard, { force: true });
  }
}

/**
 * Whether the lock's process still runs. On another host it cannot be checked, so it is
 * taken to. Our own pid outside the registry is an earlier process that had our pid (a
 * container's pid 1, say).
 */
function isAlive(holder: StoreLockHolder): boolean {
  if (holder.hostname !== hostname()) return true;
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0); // signal 0: only checks that the process exists
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH'; // EPERM: it exists, as another user
  }
}

function parseHolder(content: string): StoreLockHolder | undefined {
  try {
    const value = JSON.parse(content) as Partial<StoreLockHolder>;
    if (typeof value.pid === 'number' && typeof value.hostname === 'string' && typeof value.startedAt === 'string') {
      return { pid: value.pid, hostname: value.hostname, startedAt: value.startedAt };
    }
  } catch {
    // not (yet) JSON
  }
  return undefined;
}

async function createExclusive(file: string, content: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
  return true;
}

async function olderThan(file: string, ms: number): Promise<boolean> {
  const stats = await stat(file).catch(ignoreMissing);
  return stats === undefined || Date.now() - stats.mtimeMs > ms;
}

function ignoreMissing(error: unknown): undefined {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  throw error;
}

/**
 * A process that exits without closing its stores leaves no lock behind (best effort: a
 * kill or a crash skips this, and the next opener finds the pid gone and takes over).
 */
function installExitHook(): void {
  if (registry.exitHook) return;
  registry.exitHook = true;
  process.on('exit', () => {
    for (const { file, content } of registry.held.values()) {
      try {
        if (readFileSync(file, 'utf8') === content) unlinkSync(file);
      } catch {
        // already gone, or the directory with it
      }
    }
  });
}
