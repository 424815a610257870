import { sql } from 'kysely';
import { z } from 'zod';
import { defineProjection, type EventStore } from 'annals';

export const tallyEvents = { Counted: z.object({ key: z.string().min(1) }) };

/** A count per key: the small projection the CLI tests configure. */
export function tallyProjection(options: { name?: string; version?: number; partitions?: number; failOn?: string | undefined } = {}) {
  return defineProjection({
    name: options.name ?? 'tally',
    version: options.version ?? 1,
    events: tallyEvents,
    ...(options.partitions ? { partitions: options.partitions } : {}),
    schema: async (db) => {
      await db.schema
        .createTable('tallies')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('n', 'integer', (c) => c.notNull())
        .execute();
    },
    apply: async (event, { db }) => {
      if (options.failOn !== undefined && event.data.key === options.failOn) throw new Error(`refusing key ${event.data.key}`);
      await db
        .insertInto('tallies')
        .values({ key: event.data.key, n: 1 })
        .onConflict((oc) => oc.column('key').doUpdateSet({ n: sql`tallies.n + 1` }))
        .execute();
    },
  });
}

export const counted = (key: string) => ({ type: 'Counted', data: { key } });

/**
 * Appends, then waits until readers of the log see the events: catchUpProjections goes
 * up to the head as of its call, and transactions of other test files can hold that
 * head back for a moment (docs/global-log.md).
 */
export async function appendVisible(store: EventStore, streamId: string, events: { type: string; data: unknown }[]): Promise<bigint> {
  const { lastGlobalPosition } = await store.appendToStream(streamId, events);
  const deadline = Date.now() + 10_000;
  while ((await store.headPosition()) < lastGlobalPosition) {
    if (Date.now() > deadline) throw new Error(`position ${lastGlobalPosition} did not become visible within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return lastGlobalPosition;
}
