import { PrivacyKeyError } from '../errors.js';
import { keyBytes } from './cipher.js';

/** The environment variable the master key is read from when none is given. */
export const masterKeyVariable = 'ANNALS_MASTER_KEY';

/**
 * A master key as 32 bytes, from a Buffer or from text: 64 hex digits or base64 of 32
 * bytes (`openssl rand -base64 32`). `source` names where it came from in errors; the
 * value itself is never repeated.
 * @throws PrivacyKeyError (`missing`, `malformed`)
 */
export function parseMasterKey(value: string | Buffer | undefined, source: string): Buffer {
  if (value === undefined || value === '') {
    throw new PrivacyKeyError(
      'missing',
      `${source} is not set: personal data is encrypted with keys wrapped by a master key; set ${masterKeyVariable} to 32 random bytes in base64 (openssl rand -base64 32)`,
    );
  }
  if (Buffer.isBuffer(value)) {
    if (value.length === keyBytes) return Buffer.from(value);
    throw new PrivacyKeyError('malformed', `${source} must be ${keyBytes} bytes, not ${value.length}`);
  }
  const text = value.trim();
  const bytes = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : /^[A-Za-z0-9+/_-]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : undefined;
  if (bytes?.length !== keyBytes) {
    throw new PrivacyKeyError('malformed', `${source} must be ${keyBytes} bytes as base64 (44 characters) or hex (64 digits)`);
  }
  return bytes;
}
