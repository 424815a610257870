import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { UsageError } from './usage-error.js';

/** The files looked for in the working directory when no `--config` is given, in this order. */
export const defaultConfigFiles = ['annals.config.ts', 'annals.config.mts', 'annals.config.js', 'annals.config.mjs'] as const;

const typescript = /\.[cm]?ts$/;

/**
 * The absolute path of the config module: `path` when given, else the first of
 * `defaultConfigFiles` that exists in the working directory.
 *
 * @throws UsageError when that file does not exist.
 */
export async function findConfigFile(path: string | undefined): Promise<string> {
  if (path !== undefined) {
    if (await exists(resolve(path))) return resolve(path);
    throw new UsageError(`config file ${resolve(path)} not found (give its path with --config PATH)`);
  }
  const file = await findDefaultConfigFile();
  if (file === undefined) {
    throw new UsageError(`no config file in ${process.cwd()} (looked for ${defaultConfigFiles.join(', ')}; give one with --config PATH)`);
  }
  return file;
}

/** The first of `defaultConfigFiles` in the working directory, if there is one. */
export async function findDefaultConfigFile(): Promise<string | undefined> {
  for (const file of defaultConfigFiles.map((name) => resolve(name))) {
    if (await exists(file)) return file;
  }
  return undefined;
}

/**
 * Imports the config module at `file` (absolute) and resolves to its exports.
 *
 * A JavaScript config needs nothing but Node. A TypeScript one is loaded through tsx's
 * ESM hooks, registered only then: tsx is an optional peer dependency, so an installed
 * `annals` runs on plain Node and only projects that write `annals.config.ts` need it.
 * (Node's own type stripping is not enough: a config importing `./projections.js` that
 * is really `projections.ts`, the usual TypeScript convention, fails to resolve there.)
 *
 * @throws UsageError naming the file, and for a syntax error the line and column.
 */
export async function importConfigModule(file: string): Promise<{ default?: unknown }> {
  if (typescript.test(file)) await registerTypeScript(file);
  try {
    return (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (error) {
    throw new UsageError(`config file ${file} could not be loaded: ${await loadFailure(file, error)}`);
  }
}

async function registerTypeScript(file: string): Promise<void> {
  let tsx: { register: () => unknown };
  try {
    tsx = (await import('tsx/esm/api')) as { register: () => unknown };
  } catch {
    throw new UsageError(
      `config file ${file} is TypeScript, which needs tsx to load: install it (npm install --save-dev tsx), or write the config as annals.config.mjs`,
    );
  }
  tsx.register();
}

/**
 * What went wrong, with the location of a syntax error. tsx's transform error carries
 * `file:line:column` in its message. Node's SyntaxError for an ES module carries no
 * location at all (Node prints it only for an uncaught error), so `node --check` is
 * asked for it: the file, the line, then a caret under the column.
 */
async function loadFailure(file: string, error: unknown): Promise<string> {
  if (!(error instanceof Error)) return String(error);
  const message = error.message.replace(/^Transform failed with \d+ errors?:\n/, '').trim();
  if (error.name !== 'SyntaxError' || typescript.test(file)) return message;
  const located = await syntaxErrorLocation(file);
  return located ?? `${message} (in a module the config imports)`;
}

async function syntaxErrorLocation(file: string): Promise<string | undefined> {
  try {
    await promisify(execFile)(process.execPath, ['--check', file]);
    return undefined;
  } catch (error) {
    const lines = String((error as { stderr?: unknown }).stderr ?? '').split('\n');
    const where = lines.findIndex((line) => line.startsWith(`${file}:`));
    const caret = lines[where + 2]?.indexOf('^') ?? -1;
    const reason = lines.find((line) => line.startsWith('SyntaxError:'));
    if (where === -1 || reason === undefined) return undefined;
    return `${lines[where]}${caret >= 0 ? `:${caret + 1}` : ''}: ${reason}`;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}
