import { createHash } from 'node:crypto';
import { ValidationError } from '../errors.js';

interface ParsedCommand {
  type: string;
  data: unknown;
}

/**
 * A stable digest of a parsed command, stored with its events (`metadata.commandHash`) so
 * that a command id reused for another command is refused. Object keys are sorted at
 * every level (arrays keep their order): zod returns an object's keys in the schema's
 * order, but a record's, and those of `z.unknown()` data, in the order the client sent
 * them, and a retry may send them in another (issue 11).
 */
export function commandFingerprint(command: ParsedCommand): string {
  try {
    return digest(canonicalJson([command.type, command.data]));
  } catch (error) {
    // JSON.stringify recurses: data nested thousands deep ends in a RangeError.
    throw new ValidationError([{ field: 'command.data', reason: `cannot be serialised to JSON: ${String(error)}` }]);
  }
}

/**
 * Whether `stored`, the fingerprint on an earlier attempt's events, is this command's.
 *
 * Events appended before fingerprints were canonical carry the digest of the JSON in the
 * order the data came. A retry sending the same command the same way (every retry whose
 * data is objects of a schema, whose order zod fixes) must still be recognised after an
 * upgrade, not refused as another command: that digest is accepted too. It cannot match
 * a different command, since equal JSON text is equal data. Drop it once no event stored
 * before the change can be retried any more.
 */
export function isFingerprintOf(stored: unknown, command: ParsedCommand): boolean {
  return stored === commandFingerprint(command) || stored === legacyFingerprint(command);
}

function legacyFingerprint(command: ParsedCommand): string | undefined {
  try {
    return digest(JSON.stringify([command.type, command.data]));
  } catch {
    return undefined; // data JSON cannot hold (a bigint) had no fingerprint before
  }
}

function digest(text: string): string {
  return createHash('sha1').update(text).digest('base64url');
}

/** JSON with the keys of every object sorted: the same text for the same data. */
function canonicalJson(value: unknown): string {
  // The replacer sees each value after toJSON, before it is written: plain data only.
  // (Integer-like keys still come first, as in any object: the same order every time.)
  return JSON.stringify(value, (_key, item: unknown) => {
    // A bigint (z.bigint() in a command schema) has no JSON form; tagged so 1n and '1' differ.
    if (typeof item === 'bigint') return { $bigint: item.toString() };
    // JSON.stringify writes a Map or Set as {}: two commands differing only there (z.map,
    // z.set) would share a fingerprint. Entries keep their order, as arrays do.
    if (item instanceof Map) return { $map: [...item.entries()] };
    if (item instanceof Set) return { $set: [...item.values()] };
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return item;
    const record = item as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(record)
        .sort()
        .map((key) => [key, record[key]]),
    );
  });
}
