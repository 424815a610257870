import { describe, expect, it } from 'vitest';
import { partitionOfKey } from '../../src/index.js';

// The partition of a key decides which worker handles it and which checkpoint covers it,
// in every process and every version: a change would move keys between partitions with
// their checkpoints behind. The values are FNV-1a (32 bits) of the key's UTF-8 bytes,
// computed outside Annals; Postgres' annals_partition_of is held to the same function in
// test/event-store/log-partitions.int.test.ts.
describe('partitionOfKey', () => {
  it('is FNV-1a of the UTF-8 bytes modulo the count, for ASCII and other keys alike', () => {
    expect(partitionOfKey('order-42', 4)).toBe(1461995252 % 4);
    expect(partitionOfKey('order-42', 1024)).toBe(1461995252 % 1024);
    expect(partitionOfKey('post-😀-é', 4)).toBe(2951790082 % 4);
    expect(partitionOfKey('post-😀-é', 1024)).toBe(2951790082 % 1024);
    expect(partitionOfKey('a', 1024)).toBe(3826002220 % 1024);
    expect(partitionOfKey('anything', 1)).toBe(0);
  });
});
