import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyBytes } from './cipher.js';
import { parseMasterKey } from './master-key.js';

/** The file beside an embedded database that holds its development master key. */
export const developmentKeyFile = 'master.key';

/**
 * A master key for an embedded PGlite database in development, so that `npm start` works
 * with nothing set: read from `<dataDir>/master.key`, or made there (mode 0600) on first
 * use. It lives beside the data it protects, so it protects nothing against a copy of
 * that folder: production sets ANNALS_MASTER_KEY (the `annals` command never uses this
 * with NODE_ENV=production). An in-memory database gets a key for the process's life.
 */
export function developmentMasterKey(dataDir: string): { key: Buffer; file: string | undefined } {
  if (dataDir.startsWith('memory://')) return { key: randomBytes(keyBytes), file: undefined };
  const file = join(dataDir, developmentKeyFile);
  try {
    return { key: parseMasterKey(readFileSync(file, 'utf8'), file), file };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(keyBytes);
  // 'wx': two processes starting at once must not each write their own key.
  try {
    writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { key: parseMasterKey(readFileSync(file, 'utf8'), file), file };
    throw error;
  }
  return { key, file };
}
