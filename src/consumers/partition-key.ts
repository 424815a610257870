/**
 * The partition of a key: FNV-1a over its UTF-8 bytes, modulo the partition count. Stable
 * across processes and versions (it decides which worker owns which keys).
 *
 * @example
 * ```ts
 * partitionOfKey('order-42', 4); // 0 to 3, the same in every process
 * ```
 */
export function partitionOfKey(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    // ASCII is its own UTF-8: no buffer per key on the consumers' path. Anything else is
    // hashed from its UTF-8 bytes (the same bytes Postgres' annals_partition_of hashes).
    if (code >= 0x80) return fnv1a(Buffer.from(key, 'utf8')) % partitions;
    hash ^= code;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

function fnv1a(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (const byte of bytes) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * How Postgres picks the events of each of a reader's partitions (readAll's `partition`),
 * when it can: for a reader with more than one partition keyed by stream id (no
 * `partitionKey` of its own). A custom key is computed in JavaScript, so such a reader's
 * partitions each read every event. One rule for the engine, the status lags and the CLI.
 */
export function partitionsByStream(partitions: number, partitionKey: unknown): { count: number; key: 'stream' } | undefined {
  return partitions > 1 && partitionKey === undefined ? { count: partitions, key: 'stream' } : undefined;
}
