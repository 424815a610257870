/**
 * `npm run bench:retention`: append and read figures on a log with half its events removed
 * by retention, against the same log with nothing removed (issue 16, "Done when"), side by
 * side in one run, rounds interleaved. Prints a markdown table of medians and same-round
 * ratios for docs/benchmarks.md ("Issue 16: retention"). Settings: BENCH_RETENTION_EVENTS
 * (events per log before removal, default 200,000), BENCH_RETENTION_ROUNDS (default 5).
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { createEventStore, defineRetention, runRetention, type EventStore } from '../../src/index.js';
import { adminQuery, databaseUrl, formatRate, freshName, intFromEnv, machineDetails, markdownTable, now, quoteIdent, runWorkers } from '../harness.js';
import { median } from '../median.js';

const events = intFromEnv('BENCH_RETENTION_EVENTS', 200_000);
const rounds = intFromEnv('BENCH_RETENTION_ROUNDS', 5);
const perStream = 10;
const streams = events / perStream;

type Figure = 'append' | 'readStream' | 'readAll';
const figures: Figure[] = ['append', 'readStream', 'readAll'];

/** A log of `events` events on `streams` streams, half in category `kept`, half in `old`. */
async function fill(store: EventStore): Promise<void> {
  const batch = 200;
  for (let first = 0; first < streams; first += batch) {
    await store.withTransaction(async (tx) => {
      for (let s = first; s < Math.min(first + batch, streams); s++) {
        const category = s % 2 === 0 ? 'kept' : 'old';
        const data = { n: s, note: 'x'.repeat(100) };
        await tx.appendToStream(`${category}-${s}`, Array.from({ length: perStream }, () => ({ type: 'Noted', data })), { expectedVersion: 'no_stream' });
      }
    });
  }
}

/** One round of one figure on one store: events (or streams) per second. */
async function measure(store: EventStore, figure: Figure): Promise<number> {
  // 16 callers back to back for 2 s after 0.3 s of warm-up; events per second.
  const callers = async (work: () => Promise<number>) => (await runWorkers({ concurrency: 16, warmupMs: 300, measureMs: 2_000, work })).eventsPerSecond;
  if (figure === 'append') {
    return callers(async () => {
      await store.appendToStream(`new-${randomUUID()}`, [{ type: 'Noted', data: { n: 0 } }], { expectedVersion: 'no_stream' });
      return 1;
    });
  }
  if (figure === 'readStream') {
    // A random stream of those kept: 10 events each, in either log.
    return callers(async () => (await store.readStream(`kept-${2 * Math.floor(Math.random() * (streams / 2))}`)).length);
  }
  // The log read from the start, in pages of 1,000, up to 50,000 events of what is left.
  const started = now();
  let read = 0;
  let after = 0n;
  while (read < 50_000) {
    const page = await store.readAll({ after, limit: 1000 });
    if (page.length === 0) break;
    read += page.length;
    after = page.at(-1)!.globalPosition;
  }
  return read / ((now() - started) / 1000);
}

const machine = await machineDetails();
const loadBefore = os.loadavg();
const full = { schema: freshName('retention_full'), label: 'nothing removed' };
const half = { schema: freshName('retention_half'), label: 'half removed by retention' };
const stores = new Map<string, EventStore>();
try {
  for (const target of [full, half]) {
    const store = createEventStore({ connectionString: databaseUrl, maxConnections: 20 }, { schema: target.schema });
    stores.set(target.schema, store);
    await store.migrate();
    console.log(`filling ${target.label} with ${events} events...`);
    await fill(store);
  }
  const halfStore = stores.get(half.schema)!;
  // The `old` streams deleted (tombstones), then removed by the policy: half the log.
  for (let first = 1; first < streams; first += 32) {
    const ids = Array.from({ length: 16 }, (_, i) => first + 2 * i).filter((s) => s < streams);
    await Promise.all(ids.map((s) => halfStore.deleteStream(`old-${s}`)));
  }
  const removing = now();
  const report = await runRetention(halfStore, defineRetention({ categories: { old: { afterDelete: true } } }), { batchSize: 5_000 });
  const removed = report.results.reduce((sum, r) => sum + r.removed, 0);
  console.log(`retention removed ${removed} events in ${((now() - removing) / 1000).toFixed(1)} s`);
  await adminQuery([`VACUUM ANALYZE ${quoteIdent(half.schema)}.events`, `VACUUM ANALYZE ${quoteIdent(full.schema)}.events`]);

  const results = new Map<string, number[]>();
  for (let round = 0; round < rounds; round++) {
    for (const figure of figures) {
      const order = round % 2 === 0 ? [full, half] : [half, full];
      for (const target of order) {
        const rate = await measure(stores.get(target.schema)!, figure);
        const key = `${figure}/${target.schema}`;
        results.set(key, [...(results.get(key) ?? []), rate]);
        console.log(`  round ${round + 1}, ${figure}, ${target.label}: ${formatRate(rate)}/s`);
      }
    }
  }
  const rows = figures.map((figure) => {
    const a = results.get(`${figure}/${full.schema}`)!;
    const b = results.get(`${figure}/${half.schema}`)!;
    const ratios = a.map((value, i) => b[i]! / value).sort((x, y) => x - y);
    return [figure, formatRate(median(a)), formatRate(median(b)), `${median(ratios).toFixed(2)}x (rounds ${ratios[0]!.toFixed(2)}x to ${ratios.at(-1)!.toFixed(2)}x)`];
  });
  console.log(
    `\n${markdownTable(['figure (median of ' + rounds + ' rounds)', `${full.label} (per s)`, `${half.label} (per s)`, 'half removed / nothing removed, same round'], rows, ['left', 'right', 'right', 'right'])}`,
  );
  console.log(`\n- ${events.toLocaleString('en-US')} events per log before removal (${streams.toLocaleString('en-US')} streams of ${perStream}); retention removed ${removed.toLocaleString('en-US')} (every event of the \`old\` streams, deleted first: \`afterDelete\`), then both logs were vacuumed and analyzed.`);
  console.log(`- Date: ${new Date().toISOString()}; ${machine.cores} CPUs (${machine.cpu}); RAM ${machine.ramGiB} GiB; ${machine.platform}; Node ${machine.node}; ${machine.postgres.split(' on ')[0]}.`);
  console.log(`- Load average before: ${loadBefore.map((l) => l.toFixed(2)).join(', ')}; after: ${os.loadavg().map((l) => l.toFixed(2)).join(', ')}.`);
} finally {
  for (const store of stores.values()) await store.close();
  await adminQuery([full.schema, half.schema].map((schema) => `DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`));
}
