import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM as Annals stores it: one buffer `iv (12) | ciphertext | tag (16)`. The
 * associated data binds a ciphertext to where it belongs (an event id and subject, a key
 * id), so a ciphertext copied into another event or key row does not open there.
 */
const ivBytes = 12;
const tagBytes = 16;
export const keyBytes = 32;

/**
 * Random IVs taken from a pool filled 1,024 at a time: a randomBytes call costs about 7 µs
 * whatever its size, a third of a field's seal. Each IV is used once (random 96-bit IVs:
 * NIST SP 800-38D allows 2^32 messages per key).
 */
let ivPool = Buffer.alloc(0);
let ivNext = 0;

function nextIv(): Buffer {
  if (ivNext + ivBytes > ivPool.length) {
    ivPool = randomBytes(ivBytes * 1024);
    ivNext = 0;
  }
  const iv = ivPool.subarray(ivNext, ivNext + ivBytes);
  ivNext += ivBytes;
  return iv;
}

export function seal(key: Buffer, plaintext: Buffer, associated: string): Buffer {
  const iv = nextIv();
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(associated, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

/** The plaintext, or undefined when `sealed` was not made with `key` and `associated` (or was altered). */
export function open(key: Buffer, sealed: Buffer, associated: string): Buffer | undefined {
  if (sealed.length < ivBytes + tagBytes) return undefined;
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, ivBytes));
  decipher.setAAD(Buffer.from(associated, 'utf8'));
  decipher.setAuthTag(sealed.subarray(sealed.length - tagBytes));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(ivBytes, sealed.length - tagBytes)), decipher.final()]);
  } catch {
    return undefined;
  }
}

export const newDataKey = (): Buffer => randomBytes(keyBytes);

/**
 * A short public name of a master key (hex of a hash of it): stored beside each wrapped
 * data key, so that a store opened with another master key says so instead of reading
 * every personal field as erased.
 */
export function fingerprintOf(masterKey: Buffer): string {
  return createHash('sha256').update('annals:master-key-fingerprint').update(masterKey).digest('hex').slice(0, 16);
}

/** A key for one purpose derived from the master key (HKDF-SHA256): blind indexes never use the master key itself. */
export function derivedKey(masterKey: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), `annals:${purpose}`, keyBytes));
}

export function hmacHex(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('hex');
}
