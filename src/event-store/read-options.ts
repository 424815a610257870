import { z } from 'zod';
import { eventTypeSchema, streamIdSchema } from './validation.js';

/**
 * Bounds on what the log's readers accept (docs/event-store.md, "Limits"). Each list
 * travels to Postgres as one array parameter (`= ANY($n::text[])`), not as one parameter
 * per entry: a statement text per length of the list was a new named prepared statement
 * on every pooled connection (2,000 lengths: 2,000 statements, 346 MB of server memory on
 * one connection), and past 65,535 entries the protocol refused the statement (08P01).
 */

/** Global positions are Postgres `bigint`s: 0 to 2^63 - 1. */
export const maxGlobalPosition = 2n ** 63n - 1n;

/**
 * Most names in one `types` or `categories` filter, and most ids in one
 * `readEventsById`: a filter a caller can build by mistake (every type ever seen, say)
 * still fits, and one read's array stays bounded on the server: about 50 MB at the very
 * most (100,000 names of 255 characters), a few megabytes for names of usual length.
 */
export const maxListEntries = 100_000;

/** A global position given by a caller: a bigint from 0 to 2^63 - 1, else a ValidationError. */
export const globalPositionSchema = z
  .bigint({ error: 'must be a bigint global position (e.g. 0n)' })
  .min(0n, { error: 'must be >= 0n' })
  .max(maxGlobalPosition, { error: `must be at most 2^63 - 1 (${maxGlobalPosition}n), the largest global position` });

const listSchema = <T extends z.ZodType>(entry: T, what: string) =>
  z.array(entry).max(maxListEntries, { error: `must list at most ${maxListEntries.toLocaleString('en-US')} ${what}` });

/** Most partitions a consumer may have (defineProjection, defineConsumer, defineOutbox). */
export const maxPartitions = 1024;

/** readAll's `partition`: one of `count` partitions of the log, by partitionOfKey. */
export const logPartitionSchema = z
  .object({
    index: z.number({ error: 'must be a number' }).int({ error: 'must be a whole number' }).min(0, { error: 'must be >= 0' }),
    count: z
      .number({ error: 'must be a number' })
      .int({ error: 'must be a whole number' })
      .min(1, { error: 'must be >= 1' })
      .max(maxPartitions, { error: `must be at most ${maxPartitions}` }),
    key: z.enum(['stream', 'ordering'], { error: "must be 'stream' or 'ordering'" }).optional(),
  })
  .refine((partition) => partition.index < partition.count, {
    error: 'must be below count (partitions are numbered from 0)',
    path: ['index'],
    // Only once index and count are valid on their own: one issue per mistake.
    when: (payload) => payload.issues.length === 0,
  });

export const readAllOptionsSchema = z
  .object({
    after: globalPositionSchema.optional(),
    limit: z.number().int().positive({ error: 'must be a positive whole number' }).optional(),
    types: listSchema(eventTypeSchema, 'event types').optional(),
    categories: listSchema(streamIdSchema, 'categories').optional(),
    partition: logPartitionSchema.optional(),
  })
  .optional();

export const eventIdsSchema = listSchema(z.uuid({ error: 'must be a UUID' }), 'event ids');
