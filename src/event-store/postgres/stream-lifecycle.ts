import { sql, type Kysely } from 'kysely';
import { z } from 'zod';
import type { EventStoreTables } from '../../database/tables.js';
import { ConcurrencyError } from '../../errors.js';
import type { StreamInfo } from '../event-store.js';
import { expectedVersionSchema, type ExpectedVersion } from '../expected-version.js';
import { streamIdSchema } from '../validation.js';
import { parseInput } from '../../validation.js';
import { versionSchema } from './reads.js';

/**
 * What deleting and truncating a stream run with. Store-level only (not in a
 * transaction): a delete opens its own transaction on the pool.
 */
export interface StreamLifecycleContext {
  readonly db: Kysely<EventStoreTables>;
  readonly schema: string;
  /** Throws StoreClosedError once the store is closed. */
  readonly assertOpen: () => void;
  readonly getStreamInfo: (streamId: string) => Promise<StreamInfo | null>;
}

export async function deleteStream(
  store: StreamLifecycleContext,
  streamId: string,
  options: { expectedVersion?: ExpectedVersion } = {},
): Promise<void> {
  store.assertOpen();
  const id = parseInput(streamIdSchema, streamId, 'streamId');
  const expected = parseInput(expectedVersionSchema, options.expectedVersion ?? 'any', 'options.expectedVersion');
  const expectsNoStream = expected === 'no_stream' || expected === 0;
  if (!expectsNoStream) {
    // The version check happens in the UPDATE itself, so a concurrent append between a
    // check and the delete cannot slip through. The snapshot goes in the same
    // transaction: a recreated stream starts from nothing, not from its old state.
    const deleted = await store.db.transaction().execute(async (trx) => {
      const row = await trx
        .withSchema(store.schema)
        .updateTable('streams')
        .set({ deleted_at: sql`now()`, updated_at: sql`now()` })
        .where('stream_id', '=', id)
        .where('deleted_at', 'is', null)
        .$if(typeof expected === 'number', (q) => q.where('version', '=', String(expected)))
        .returning('version')
        .executeTakeFirst();
      if (row) await trx.withSchema(store.schema).deleteFrom('snapshots').where('stream_id', '=', id).execute();
      return row !== undefined;
    });
    if (deleted) return;
  }
  const info = await store.getStreamInfo(id);
  if (info?.deleted) return; // already deleted: nothing to do
  const absentIsFine = expected === 'any' || expectsNoStream;
  if (info === null && absentIsFine) return;
  throw new ConcurrencyError(id, expected, info?.version ?? 0);
}

export async function truncateStream(store: StreamLifecycleContext, streamId: string, options: { before: number }): Promise<{ truncateBefore: number }> {
  store.assertOpen();
  const id = parseInput(streamIdSchema, streamId, 'streamId');
  const { before } = parseInput(z.object({ before: versionSchema }), options, 'options');
  const row = await store.db
    .withSchema(store.schema)
    .updateTable('streams')
    .set({
      truncate_before: sql`greatest(truncate_before, least(${before}::bigint, version + 1))`,
      updated_at: sql`now()`,
    })
    .where('stream_id', '=', id)
    .returning('truncate_before')
    .executeTakeFirst();
  return { truncateBefore: row ? Number(row.truncate_before) : 0 };
}
