import { afterAll, describe, expect, it } from 'vitest';
import { createEventStore, type ReadAllOptions, type RecordedEvent } from '../../src/index.js';
import { maxBranches } from '../../src/event-store/postgres/log-branches.js';
import { testDatabaseUrl, useTestSchema } from '../setup/database.js';

// A filtered page of the log reads about a page of rows (log-branches.ts). With
// `type = ANY($1)`, Postgres either sorted every matching row after the reader's position
// or walked the whole primary key range, dropping the rows that did not match; so did the
// generic plan of a prepared filtered read.

const { schema } = useTestSchema('filtered_reads');
// One connection: the transaction below inspects the row counts of its own backend.
const store = createEventStore({ connectionString: testDatabaseUrl, maxConnections: 1 }, { schema, maxEventsPerAppend: 10_000 });
afterAll(() => store.close());
await store.migrate();

// 10,000 events: each hundredth of category `rare`, of types RareA and RareB in turn.
for (let block = 0; block < 100; block++) {
  await store.appendToStream(`common-${block % 7}`, Array.from({ length: 99 }, (_, i) => ({ type: i % 2 === 0 ? 'CommonA' : 'CommonB', data: { block, i } })));
  await store.appendToStream(`rare-${block % 3}`, [{ type: block % 2 === 0 ? 'RareA' : 'RareB', data: { block } }]);
}
// With statistics, as a log in use has them: a generic plan then counts on an average type.
await store.withTransaction((tx) => tx.query(`ANALYZE "${schema}".events`), { appends: false });
const everything = await store.readAll();

/** What a filter must return: the log read whole and filtered here, in position order. */
function expected(options: ReadAllOptions): RecordedEvent[] {
  const after = options.after ?? 0n;
  const matching = everything.filter(
    (event) =>
      event.globalPosition > after &&
      (options.types === undefined || options.types.includes(event.type)) &&
      (options.categories === undefined || options.categories.includes(event.streamId.split('-')[0]!)),
  );
  return options.limit === undefined ? matching : matching.slice(0, options.limit);
}

/**
 * A read, and the rows of the log's tables that Postgres fetched or scanned for it: the
 * backend's counters not yet reported (pg_stat_xact_*, which gather more than this
 * transaction's), before and after it.
 */
async function readCounting(options: ReadAllOptions): Promise<{ events: RecordedEvent[]; rowsTouched: number }> {
  return store.withTransaction(
    async (tx) => {
      const touched = async () => {
        const [row] = await tx.query<{ touched: string }>(
          `SELECT coalesce(sum(coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0)), 0) AS touched
             FROM pg_stat_xact_user_tables WHERE schemaname = $1 AND relname IN ('events', 'events_archive')`,
          [schema],
        );
        return Number(row!.touched);
      };
      const before = await touched();
      const events = await tx.readAll(options);
      return { events, rowsTouched: (await touched()) - before };
    },
    { appends: false },
  );
}

describe('a filtered page of the log', () => {
  it.each<[string, ReadAllOptions]>([
    ['one category', { categories: ['rare'], limit: 5 }],
    ['two types', { types: ['RareA', 'RareB'], limit: 5 }],
    ['a category and its types', { categories: ['rare'], types: ['RareA', 'RareB'], limit: 5 }],
    ['two types from the middle of the log', { types: ['RareB', 'RareA'], limit: 5, after: everything[5_000]!.globalPosition }],
  ])('reads about a page of rows: %s', async (_name, options) => {
    // Ten times: a prepared statement would go to a generic plan after five runs, which
    // assumes an average type or category and walks the primary key.
    for (let run = 1; run <= 10; run++) {
      const { events, rowsTouched } = await readCounting(options);
      expect(events.map((event) => event.id)).toEqual(expected(options).map((event) => event.id));
      expect(events).toHaveLength(5);
      // Each branch reads its page and one more row; the bound reads a row or two. Walking
      // the primary key would touch about 500 rows here, sorting every rare event 100.
      expect(rowsTouched, `run ${run}`).toBeLessThan(30);
    }
  });

  it('returns each event once, in position order, whatever the lists hold', async () => {
    const cases: ReadAllOptions[] = [
      { types: ['RareA', 'RareA', 'RareB'] },
      { categories: ['rare', 'rare'], types: ['RareB'] },
      { types: ['CommonA', 'RareB'], limit: 250, after: everything[1_234]!.globalPosition },
      { types: ['CommonB', 'RareA', 'RareB', 'CommonA'], categories: ['common', 'rare'], limit: 1_000 },
      // More values than branches: one `= ANY` condition, the same answer.
      { types: [...Array.from({ length: maxBranches }, (_, i) => `Absent${i}`), 'RareA', 'RareB'], limit: 20 },
      { categories: [], limit: 10 },
      { types: ['RareA'], categories: [] },
      { types: ['Absent'], limit: 10 },
    ];
    for (const options of cases) {
      const events = await store.readAll(options);
      expect(events.map((event) => event.globalPosition), JSON.stringify(options, (_key, value: unknown) => (typeof value === "bigint" ? String(value) : value))).toEqual(expected(options).map((event) => event.globalPosition));
    }
  });

  it('pages through a filter to its end without skipping or repeating', async () => {
    const options = { types: ['RareA', 'CommonB'] };
    const seen: bigint[] = [];
    for (let after = 0n; ; ) {
      const page = await store.readAll({ ...options, after, limit: 333 });
      if (page.length === 0) break;
      seen.push(...page.map((event) => event.globalPosition));
      after = page.at(-1)!.globalPosition;
    }
    expect(seen).toEqual(expected(options).map((event) => event.globalPosition));
  });
});
