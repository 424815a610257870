/**
 * Another commit's Annals, extracted beside the working tree so that its store can be
 * benchmarked next to the working tree's (bench/annals-api.ts loads it by path).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository this script belongs to (bench/compare/ is two levels below it). */
export const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));

/**
 * What the figures need at run time: the store's code and SQL, "type": "module" and the
 * package's name (its domain/ and projections/ import 'annals', which resolves to its own
 * src/ through package.json), and the example domain and projections the command and
 * projection figures run (bench/annals-api.ts).
 */
const extractedPaths = ['src', 'migrations', 'package.json', 'tsconfig.json', 'domain', 'projections'];

function gitRaw(...args: string[]): string {
  return execFileSync('git', args, { cwd: repositoryRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const git = (...args: string[]) => gitRaw(...args).trim();

export interface Commit {
  /** The ref as given (a branch, tag, HEAD~3, a hash). */
  ref: string;
  hash: string;
  short: string;
  subject: string;
}

export function resolveCommit(ref: string): Commit {
  const hash = git('rev-parse', '--verify', `${ref}^{commit}`);
  return { ref, hash, short: hash.slice(0, 7), subject: git('log', '-1', '--format=%s', hash) };
}

/**
 * The baseline when none is given: where HEAD forked from its upstream branch if it has
 * one (what a branch's changes cost), else the commit before HEAD.
 */
export function defaultBaselineRef(): string {
  try {
    return git('merge-base', 'HEAD', '@{upstream}');
  } catch {
    return 'HEAD~1';
  }
}

/** Files of src/ and migrations/ where the working tree differs from HEAD. */
export function uncommittedCodeFiles(): string[] {
  // Untrimmed: each line starts with a two-letter status that may begin with a space.
  return gitRaw('status', '--porcelain', '--', 'src', 'migrations')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.slice(3));
}

export interface SourceTree {
  commit: Commit;
  /** A directory holding src/, migrations/, domain/ and projections/ as at the commit. */
  root: string;
  /** Deletes the directory. */
  remove(): Promise<void>;
}

/**
 * Extracts `commit`'s store into a fresh temporary directory, with node_modules linked to
 * the working tree's so that its imports resolve to the same packages. `git archive`
 * rather than `git worktree add`: it leaves no trace in the repository (no worktree
 * entry to prune, no lock), even if the run is killed; only the temporary directory
 * remains then, under the system's temp folder.
 */
export async function extractSourceTree(commit: Commit): Promise<SourceTree> {
  const root = await mkdtemp(path.join(os.tmpdir(), `annals-${commit.short}-`));
  const remove = () => rm(root, { recursive: true, force: true });
  try {
    const present = extractedPaths.filter((entry) => git('ls-tree', '--name-only', commit.hash, entry) !== '');
    const archive = execFileSync('git', ['archive', '--format=tar', commit.hash, ...present], { cwd: repositoryRoot, maxBuffer: 1 << 30 });
    execFileSync('tar', ['-x', '-C', root], { input: archive });
    await symlink(path.join(repositoryRoot, 'node_modules'), path.join(root, 'node_modules'), 'dir');
    return { commit, root, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}
