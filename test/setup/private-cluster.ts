import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A throwaway PostgreSQL cluster of the test's own (initdb + pg_ctl), for tests that need
 * a second server: moving a store with pg_dump / pg_restore to a cluster whose
 * transaction ids start low. Trust auth, fsync off, listening on 127.0.0.1 at a free
 * port and on a socket in its temporary directory, which `stop()` removes.
 *
 * Missing binaries fail the test rather than skip it: CI has them, and a skipped test
 * would hide that the move was never tested.
 *
 * @example
 * ```ts
 * let cluster: PrivateCluster;
 * beforeAll(async () => (cluster = await startPrivateCluster()));
 * afterAll(() => cluster?.stop());
 * ```
 */
export interface PrivateCluster {
  /** Directory of initdb, pg_ctl, pg_dump, pg_restore used for this cluster. */
  readonly binDir: string;
  /** The cluster's temporary directory (data, socket, log); gone after `stop()`. */
  readonly dir: string;
  readonly port: number;
  /** A connection string to `database` on this cluster (default `postgres`). */
  url(database?: string): string;
  /** Runs one of the cluster's client tools (pg_dump, pg_restore, psql) as this user. */
  run(tool: string, args: readonly string[]): Promise<string>;
  /** Stops the server and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

const dirPrefix = 'annals-private-pg-';
const neededTools = ['initdb', 'pg_ctl', 'pg_dump', 'pg_restore'] as const;

/**
 * The directory holding initdb, pg_ctl, pg_dump and pg_restore of major version
 * `minMajor` or later (pg_dump refuses servers newer than itself): $PG_BINDIR, else
 * `pg_config --bindir`, else the newest /usr/lib/postgresql/N/bin. Throws, naming every
 * place looked at, when there is none.
 */
export function findPostgresBinDir(minMajor = 0): string {
  const candidates: string[] = [];
  if (process.env.PG_BINDIR) candidates.push(process.env.PG_BINDIR);
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim());
  } catch {
    // No pg_config on PATH: the versioned directories below may still exist.
  }
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root).filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((version) => join(root, version, 'bin')));
  }
  const rejected: string[] = [];
  for (const dir of new Set(candidates)) {
    const missing = neededTools.filter((tool) => !existsSync(join(dir, tool)));
    if (missing.length > 0) {
      rejected.push(`${dir} (no ${missing.join(', ')})`);
      continue;
    }
    const major = majorVersion(join(dir, 'pg_dump'));
    if (major < minMajor) {
      rejected.push(`${dir} (version ${major}, older than the server's ${minMajor})`);
      continue;
    }
    return dir;
  }
  throw new Error(
    `This test starts a PostgreSQL cluster of its own and needs ${neededTools.join(', ')} of version ${minMajor} or later ` +
      `(set PG_BINDIR to their directory). Looked at: ${rejected.length > 0 ? rejected.join('; ') : 'nothing found'}.`,
  );
}

/**
 * Creates and starts a cluster in a new temporary directory. Also stops clusters that
 * an earlier run left behind when its process was killed before it could stop them.
 */
export async function startPrivateCluster(options: { binDir?: string } = {}): Promise<PrivateCluster> {
  const binDir = options.binDir ?? findPostgresBinDir();
  sweepAbandoned(binDir);
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  const data = join(dir, 'data');
  const owner = serverUser();
  // The owning process's id: lets a later run tell a leftover cluster from a live one.
  writeFileSync(join(dir, 'owner.pid'), String(process.pid));
  if (owner) chownSync(dir, owner.uid, owner.gid);

  let stopped = false;
  let started = false;
  // A process that exits without reaching stop() (an error in a hook, process.exit) still
  // stops its server: synchronous, as 'exit' handlers must be.
  const onExit = () => stopSync(binDir, dir);
  process.once('exit', onExit);

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off('exit', onExit);
    if (started) {
      try {
        await runAsServerUser(join(binDir, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop'], dir);
      } catch {
        stopSync(binDir, dir);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await runAsServerUser(join(binDir, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'], dir);
    // The port is free when asked, but another process may take it before postgres
    // binds it: then try another.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const settings = [
        `-p ${port}`,
        `-k ${dir}`,
        '-c listen_addresses=127.0.0.1',
        '-c fsync=off',
        '-c synchronous_commit=off',
        '-c full_page_writes=off',
        '-c max_connections=50',
      ].join(' ');
      try {
        await runAsServerUser(join(binDir, 'pg_ctl'), ['-D', data, '-l', join(dir, 'server.log'), '-o', settings, '-w', '-t', '60', 'start'], dir);
        started = true;
        return {
          binDir,
          dir,
          port,
          url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(database)}`,
          run: (tool, args) => run(join(binDir, tool), args, { cwd: dir }),
          stop,
        };
      } catch (error) {
        const log = readLog(dir);
        if (attempt < 3 && /could not bind|address already in use/i.test(log)) continue;
        throw new Error(`the private cluster did not start: ${(error as Error).message}\nserver log:\n${log}`, { cause: error });
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The postgres user to run initdb and the server as, when this process is root (initdb refuses root). */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  if (postgresUser) return postgresUser;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    postgresUser = { uid: id('-u'), gid: id('-g') };
    return postgresUser;
  } catch (error) {
    throw new Error('running as root, and there is no postgres user to run initdb and the server as', { cause: error });
  }
}

let postgresUser: { uid: number; gid: number } | undefined;

function runAsServerUser(program: string, args: readonly string[], cwd: string): Promise<string> {
  // cwd: the server user may not be allowed into this process's working directory.
  if (serverUser()) return run('runuser', ['-u', 'postgres', '--', program, ...args], { cwd });
  return run(program, args, { cwd });
}

function run(program: string, args: readonly string[], options: { cwd: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(program, args, { cwd: options.cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${[program, ...args].join(' ')} failed: ${stderr.trim() || error.message}`, { cause: error }));
      else resolve(stdout);
    });
  });
}

/** Stops the cluster in `dir` at once (immediate shutdown) and removes the directory. */
function stopSync(binDir: string, dir: string): void {
  const data = join(dir, 'data');
  if (existsSync(join(data, 'postmaster.pid'))) {
    const args = ['-D', data, '-m', 'immediate', '-w', '-t', '30', 'stop'];
    const command = serverUser() ? ['runuser', '-u', 'postgres', '--', join(binDir, 'pg_ctl'), ...args] : [join(binDir, 'pg_ctl'), ...args];
    spawnSync(command[0]!, command.slice(1), { cwd: tmpdir(), stdio: 'ignore' });
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Stops and removes clusters whose owning process is gone (a run killed mid-way). */
function sweepAbandoned(binDir: string): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(dirPrefix)) continue;
    const dir = join(tmpdir(), name);
    let owner: number;
    try {
      owner = Number(readFileSync(join(dir, 'owner.pid'), 'utf8'));
    } catch {
      continue;
    }
    if (!isAlive(owner)) stopSync(binDir, dir);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function majorVersion(pgDump: string): number {
  // "pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"
  const output = execFileSync(pgDump, ['--version'], { encoding: 'utf8' });
  return Number(/\)\s*(\d+)/.exec(output)?.[1] ?? 0);
}

function readLog(dir: string): string {
  try {
    return readFileSync(join(dir, 'server.log'), 'utf8');
  } catch {
    return '(no server log)';
  }
}
