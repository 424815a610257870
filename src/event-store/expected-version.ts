import { z } from 'zod';

/**
 * What the caller believes a stream's version is, checked atomically with the append:
 * - a number `n`: the stream has exactly `n` events (`0` means it does not exist yet);
 * - `'no_stream'`: the stream does not exist (or was deleted: the append recreates it);
 * - `'stream_exists'`: the stream has at least one event and is not deleted;
 * - `'any'`: no check.
 */
export type ExpectedVersion = number | 'any' | 'no_stream' | 'stream_exists';

const reason = "must be a whole number >= 0 or one of 'any', 'no_stream', 'stream_exists'";

export const expectedVersionSchema = z.union(
  [
    z.literal(['any', 'no_stream', 'stream_exists'], { error: reason }),
    z
      .number({ error: reason })
      .int({ error: reason })
      .min(0, { error: reason })
      .max(Number.MAX_SAFE_INTEGER, { error: reason }),
  ],
  { error: reason },
);
