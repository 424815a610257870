import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PrivacyKeyError } from '../errors.js';
import { keyBytes } from './cipher.js';
import { parseMasterKey } from './master-key.js';

/** The file beside an embedded database that holds its development master key. */
export const developmentKeyFile = 'master.key';

/**
 * A master key for development, so that `npm start` works with nothing set: read from
 * `<dataDir>/master.key`, or made there (mode 0600) on first use. It lives beside the
 * data it protects, so it protects nothing against a copy of that folder: production sets
 * ANNALS_MASTER_KEY (the `annals` command never uses this with NODE_ENV=production). An
 * in-memory database gets a key for the process's life.
 */
export function developmentMasterKey(dataDir: string): { key: Buffer; file: string | undefined } {
  if (dataDir.startsWith('memory://')) return { key: randomBytes(keyBytes), file: undefined };
  const file = join(dataDir, developmentKeyFile);
  const existing = readKeyFile(file);
  if (existing) return { key: existing, file };
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(keyBytes);
  // Written whole under a name of its own, then linked into place: another process sees
  // no file or a complete one, never an empty one; the first link wins, and a process
  // that lost reads the winner's key.
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(draft, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(draft, file);
    return { key, file };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return { key: readKeyFile(file)!, file };
  } finally {
    unlinkSync(draft);
  }
}

/** The key in `file`, or undefined when there is no such file. */
function readKeyFile(file: string): Buffer | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  // An empty file never held a key, so nothing was sealed with one from it.
  if (text.trim() === '') throw new PrivacyKeyError('malformed', `${file} is empty: delete it, and a new development key is made`);
  return parseMasterKey(text, file);
}
