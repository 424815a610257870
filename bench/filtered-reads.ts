/**
 * Figure: paging through the global log with a `types` or `categories` filter (readAll,
 * as every projection, consumer and outbox relay reads), on a log where the filter keeps
 * most events or few. Each filter pages from the start to the head in pages of 1,000;
 * the rate counts the events returned. Measured twice: on the freshly written table
 * (no statistics yet: what a relay or projection started right after a bulk load meets)
 * and after `VACUUM ANALYZE`. Filters rotate round by round.
 *
 * Run alone: `npx tsx bench/filtered-reads.ts` (FILTERED_EVENTS, default 200,000, of which
 * 2% are bank-account events; FILTERED_ROUNDS, default 3). It imports the store from this
 * tree's src/, so copying it into another checkout measures that checkout's reads.
 */
import { createEventStore, type ReadAllOptions } from '../src/index.js';
import { adminQuery, databaseUrl, dropStoreSchemas, formatRate, freshName, intFromEnv, now, quoteIdent } from './harness.js';
import { median } from './median.js';

const total = intFromEnv('FILTERED_EVENTS', 200_000);
const rounds = intFromEnv('FILTERED_ROUNDS', 3);
const pageSize = 1_000;

const filters: Record<string, ReadAllOptions> = {
  'types of 98% (LikeCreated, LikeRemoved)': { types: ['LikeCreated', 'LikeRemoved'] },
  'category of 98% (post)': { categories: ['post'] },
  'types of 2% (Deposited, Withdrawn)': { types: ['Deposited', 'Withdrawn'] },
  'category of 2% (account)': { categories: ['account'] },
  'no filter': {},
};

const schema = freshName('filtered_reads');
const store = createEventStore({ connectionString: databaseUrl, maxConnections: 4 }, { schema, maxEventsPerAppend: 10_000 });
try {
  await store.migrate();
  // Appends of 1,000 events: 980 likes on 1,000 posts, then 20 account events.
  for (let at = 0; at < total; at += 1_000) {
    const likes = Array.from({ length: 980 }, (_, i) => ({ type: i % 10 === 9 ? 'LikeRemoved' : 'LikeCreated', data: { postId: `p${(at + i) % 1000}`, userId: `u${at + i}` } }));
    await store.appendToStream(`post-batch${at}`, likes);
    await store.appendToStream(`account-${at % 97}`, Array.from({ length: 20 }, (_, i) => ({ type: i % 2 === 0 ? 'Deposited' : 'Withdrawn', data: { amount: i } })));
  }
  for (const stats of ['fresh table', 'after VACUUM ANALYZE'] as const) {
    if (stats === 'after VACUUM ANALYZE') await adminQuery([`VACUUM ANALYZE ${quoteIdent(schema)}.events`]);
    const samples: Record<string, number[]> = {};
    for (let round = 0; round < rounds; round++) {
      const names = Object.keys(filters);
      for (let turn = 0; turn < names.length; turn++) {
        const name = names[(turn + round) % names.length]!;
        const started = now();
        let events = 0;
        for (let after = 0n; ; ) {
          const page = await store.readAll({ ...filters[name], after, limit: pageSize });
          events += page.length;
          if (page.length < pageSize) break;
          after = page.at(-1)!.globalPosition;
        }
        (samples[name] ??= []).push((events * 1000) / (now() - started));
      }
    }
    console.log(`\n${total.toLocaleString('en-US')} events, ${stats}: events returned per second (median of ${rounds}; rounds)`);
    for (const [name, rates] of Object.entries(samples)) console.log(`  ${name.padEnd(40)} ${formatRate(median(rates)).padStart(10)}   (${rates.map(formatRate).join(', ')})`);
  }
} finally {
  await store.close();
  await dropStoreSchemas(schema);
}
