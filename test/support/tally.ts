/**
 * The tally, the small counter that tests of both sides of the log share: `tally`, an
 * aggregate (test/aggregates), and `tallyProjection`, a projection (test/cli, whose
 * generated annals.config.ts imports this file by path: see test/cli/support/cli.ts).
 *
 * Both write `Counted` events, but not the same ones, and never into one store schema
 * (each test file has a schema of its own). The aggregate's carries the running count
 * (`n`): its tests need events whose data depends on the state. The projection's carries
 * a key (`key`): the CLI tests spread counts over rows and make a handler fail on one key.
 * One event serving both would make one side's tests assert data they do not care about.
 */
import { sql } from 'kysely';
import { z } from 'zod';
import { defineAggregate, defineProjection } from 'annals';

/**
 * A counter whose one command appends `times` events at once, each numbering itself:
 * for tests about multi-event commands, snapshots crossed mid-batch, and events whose
 * data depends on the state.
 */
export const tally = defineAggregate({
  category: 'tally',
  initialState: () => ({ count: 0 }),
  events: { Counted: z.object({ n: z.number().int().positive() }) },
  commands: { Count: z.object({ times: z.number().int().min(1).max(1000) }) },
  evolve: (state, event) => ({ count: event.data.n }),
  decide: (command, state) => Array.from({ length: command.data.times }, (_, i) => ({ type: 'Counted' as const, data: { n: state.count + i + 1 } })),
});

/** The projection's events: one `Counted` per key counted (not the aggregate's, see above). */
const keyedEvents = { Counted: z.object({ key: z.string().min(1) }) };

/** A count per key in `tallies`: the small projection the CLI tests configure. */
export function tallyProjection(options: { name?: string; version?: number; partitions?: number; failOn?: string | undefined } = {}) {
  return defineProjection({
    name: options.name ?? 'tally',
    version: options.version ?? 1,
    events: keyedEvents,
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

/** A `Counted` event of `key`, to append for `tallyProjection`. */
export const counted = (key: string) => ({ type: 'Counted', data: { key } });
