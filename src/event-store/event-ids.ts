import { randomUUID } from 'node:crypto';

// The time part of the last id made: a batch of events is made within one millisecond,
// and formatting the time once per batch instead of once per event halves the cost.
let lastMs = -1;
let prefix = '';

/**
 * The id of an event appended without one: a time-ordered UUIDv7 (RFC 9562), the Unix
 * time in milliseconds in its first 48 bits and 74 random bits after the version and
 * variant. Ids made one after the other sort near each other, so the unique index on
 * `event_id` takes new ids at its right edge instead of on random leaf pages all over an
 * index far larger than the cache (docs/benchmarks.md, "The log as it grows").
 *
 * The random part is `randomUUID()`'s (native, drawing on a pooled entropy buffer):
 * its first 15 characters, random bits and the version digit 4, give way to the time and
 * the version digit 7; the variant and the other 74 random bits stay.
 * Ids of one millisecond are not ordered among themselves, which the index does not need;
 * uniqueness rests on the 74 random bits, as a version 4 id's rests on 122.
 */
export function newEventId(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    const hex = ms.toString(16).padStart(12, '0');
    prefix = `${hex.slice(0, 8)}-${hex.slice(8)}-7`;
    lastMs = ms;
  }
  return prefix + randomUUID().slice(15);
}
