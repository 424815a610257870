import { hash as hashOnce } from 'node:crypto';

/**
 * The namespace of Annals' message ids (a UUID v5 namespace of its own, itself derived
 * from the URL namespace and `https://annals.dev/outbox`): ids of other systems derived
 * from the same names never collide with these.
 */
const namespace = Buffer.from('4a1d2c55f0b35e7e9e0c6b1f2d7a3c18', 'hex');

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
  // One-shot hash of one buffer: no Hash object per message on the relay's path.
  const name = `${destination}\n${eventId}`;
  const input = Buffer.allocUnsafe(namespace.length + Buffer.byteLength(name, 'utf8'));
  namespace.copy(input, 0);
  input.write(name, namespace.length, 'utf8');
  const hash = hashOnce('sha1', input, 'buffer');
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
