import { hash as hashOnce } from 'node:crypto';

/**
 * The namespace of Annals' message ids (a UUID v5 namespace of its own, itself derived
 * from the URL namespace and `https://annals.dev/outbox`): ids of other systems derived
 * from the same names never collide with these.
 */
const namespace = Buffer.from('4a1d2c55f0b35e7e9e0c6b1f2d7a3c18', 'hex');

/** Reused by every call (synchronous, so never shared by two at once); names longer than it get a buffer of their own. */
const scratch = Buffer.allocUnsafe(1024);

/**
 * A message's id: UUID v5 of its destination and the id of the event it was made from.
 * The same event gives the same id on every relay, retry and restart (the broker's
 * dedupe id, the receiver's inbox key), and two destinations of one event get two ids.
 *
 * @example
 * ```ts
 * messageIdOf('likes', '0b4c…'); // the same UUID every time
 * ```
 */
export function messageIdOf(destination: string, eventId: string): string {
  // One-shot hash of the namespace and the name, written into a buffer kept for the
  // purpose: no Hash object and no buffer per message on the relay's path.
  const name = `${destination}\n${eventId}`;
  const length = namespace.length + Buffer.byteLength(name, 'utf8');
  const input = length <= scratch.length ? scratch : Buffer.allocUnsafe(length);
  namespace.copy(input, 0);
  input.write(name, namespace.length, 'utf8');
  const hash = hashOnce('sha1', input.subarray(0, length), 'buffer');
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.toString('hex', 0, 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
