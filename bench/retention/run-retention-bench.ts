/**
 * `npm run bench:retention`: append and read figures on a log with half its events removed
 * by retention, against the same log with nothing removed (issue 16, "Done when"), side by
 * side in one run, rounds interleaved. A third log has its oldest half moved out by
 * position (archiveEvents): the measurement that chose the archive's design
 * (docs/archive.md). A fourth has half removed by retention and then its older part
 * archived: what is left of the thinned pages stored densely again. Prints a markdown table of medians and same-round
 * ratios for docs/benchmarks.md ("Issue 16: retention"). Settings: BENCH_RETENTION_EVENTS
 * (events per log before removal, default 200,000), BENCH_RETENTION_ROUNDS (default 5).
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import pg from 'pg';
import { archiveEvents, createEventStore, defineRetention, runRetention, type EventStore } from '../../src/index.js';
import { adminQuery, databaseUrl, dropStoreSchemas, formatRate, freshName, intFromEnv, machineDetails, markdownTable, now, quoteIdent, runWorkers } from '../harness.js';
import { median } from '../median.js';

const events = intFromEnv('BENCH_RETENTION_EVENTS', 200_000);
const rounds = intFromEnv('BENCH_RETENTION_ROUNDS', 5);
const perStream = 10;
const streams = events / perStream;

type Figure = 'append' | 'readStream' | 'readAll' | 'readAll (newer half)' | 'raw pg, readAll';
const figures: Figure[] = ['append', 'readStream', 'readAll', 'readAll (newer half)', 'raw pg, readAll'];
/**
 * The raw read's yardstick: the same pages of the hot table read with one `pg` query
 * each, no mapping. Only where the hot table holds the whole log (no archive), so that
 * it reads the same events as `readAll` from the start: what the table's pages cost.
 */
const rawReads = new Map<EventStore, { pool: pg.Pool; table: string }>();

/** Per store, the position of the last event of the older half, as filled: where the newer half starts. */
const newerHalfAfter = new Map<EventStore, bigint>();

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
    // A random stream of those kept in the newer half: 10 events each, in every log.
    return callers(async () => (await store.readStream(`kept-${streams / 2 + 2 * Math.floor(Math.random() * (streams / 4))}`)).length);
  }
  const raw = figure === 'raw pg, readAll' ? rawReads.get(store)! : undefined;
  // The log read in pages of 1,000, up to 50,000 events of what is left: from the start
  // (with the oldest half archived: through the archive, as a rebuild reads), or from
  // where the newer half starts (the hot log only, in every store).
  const started = now();
  let read = 0;
  let after = figure === 'readAll (newer half)' ? newerHalfAfter.get(store)! : 0n;
  while (read < 50_000) {
    if (raw) {
      const { rows } = await raw.pool.query<{ global_position: string }>({
        name: `raw_${raw.table}`,
        text: `SELECT * FROM ${raw.table} WHERE global_position > $1 ORDER BY global_position LIMIT 1000`,
        values: [after.toString()],
      });
      if (rows.length === 0) break;
      read += rows.length;
      after = BigInt(rows.at(-1)!.global_position);
      continue;
    }
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
const moved = { schema: freshName('retention_moved'), label: 'oldest half archived' };
const both = { schema: freshName('retention_both'), label: 'half removed, then the older part archived' };
const targets = [full, half, moved, both];
const stores = new Map<string, EventStore>();
try {
  for (const target of targets) {
    const store = createEventStore({ connectionString: databaseUrl, maxConnections: 20 }, { schema: target.schema });
    stores.set(target.schema, store);
    await store.migrate();
    console.log(`filling ${target.label} with ${events} events...`);
    await fill(store);
    newerHalfAfter.set(store, (await store.readAll({ after: 0n, limit: events / 2 })).at(-1)!.globalPosition);
  }
  let removed = 0;
  for (const target of [half, both]) {
    const store = stores.get(target.schema)!;
    // The `old` streams deleted (tombstones), then removed by the policy: half the log.
    for (let first = 1; first < streams; first += 32) {
      const ids = Array.from({ length: 16 }, (_, i) => first + 2 * i).filter((s) => s < streams);
      await Promise.all(ids.map((s) => store.deleteStream(`old-${s}`)));
    }
    const removing = now();
    const report = await runRetention(store, defineRetention({ categories: { old: { afterDelete: true } } }), { batchSize: 5_000 });
    removed = report.results.reduce((sum, r) => sum + r.removed, 0);
    console.log(`${target.label}: retention removed ${removed} events in ${((now() - removing) / 1000).toFixed(1)} s`);
  }
  // The oldest half by global position archived (archiveEvents): whole pages at the start
  // of the heap and of every index empty out, the rest stay dense; reads read both tables.
  // After retention, archiving the thinned older part stores what is left of it densely.
  for (const target of [moved, both]) {
    const store = stores.get(target.schema)!;
    const archiving = now();
    const archived = await archiveEvents(store, { through: newerHalfAfter.get(store)! });
    console.log(`${target.label}: archived ${archived.moved} events in ${((now() - archiving) / 1000).toFixed(1)} s`);
  }
  for (const target of [full, half]) {
    rawReads.set(stores.get(target.schema)!, { pool: new pg.Pool({ connectionString: databaseUrl, max: 2 }), table: `${quoteIdent(target.schema)}.events` });
  }
  await adminQuery(targets.flatMap((target) => [`VACUUM ANALYZE ${quoteIdent(target.schema)}.events`, `VACUUM ANALYZE ${quoteIdent(target.schema)}.events_archive`]));

  const results = new Map<string, number[]>();
  for (let round = 0; round < rounds; round++) {
    for (const figure of figures) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const target of order) {
        if (figure === 'raw pg, readAll' && !rawReads.has(stores.get(target.schema)!)) continue;
        const rate = await measure(stores.get(target.schema)!, figure);
        const key = `${figure}/${target.schema}`;
        results.set(key, [...(results.get(key) ?? []), rate]);
        console.log(`  round ${round + 1}, ${figure}, ${target.label}: ${formatRate(rate)}/s`);
      }
    }
  }
  const ratio = (figure: Figure, target: { schema: string }) => {
    const a = results.get(`${figure}/${full.schema}`)!;
    const b = results.get(`${figure}/${target.schema}`);
    if (!b) return '';
    const ratios = a.map((value, i) => b[i]! / value).sort((x, y) => x - y);
    return `${median(ratios).toFixed(2)}x (${ratios[0]!.toFixed(2)}x to ${ratios.at(-1)!.toFixed(2)}x)`;
  };
  const rate = (figure: Figure, target: { schema: string }) => {
    const rates = results.get(`${figure}/${target.schema}`);
    return rates ? formatRate(median(rates)) : '';
  };
  const others = [half, moved, both];
  const rows = figures.map((figure) => [figure, ...targets.map((target) => rate(figure, target)), ...others.map((target) => ratio(figure, target))]);
  console.log(
    `\n${markdownTable(
      ['figure (median of ' + rounds + ' rounds, per s)', ...targets.map((target) => target.label), 'removed / nothing, same round', 'archived / nothing, same round', 'removed and archived / nothing, same round'],
      rows,
      ['left', ...targets.map(() => 'right' as const), ...others.map(() => 'right' as const)],
    )}`,
  );
  console.log(`\n- ${events.toLocaleString('en-US')} events per log before removal (${streams.toLocaleString('en-US')} streams of ${perStream}); retention removed ${removed.toLocaleString('en-US')} (every event of the \`old\` streams, deleted first: \`afterDelete\`) from the second and fourth; the oldest half (by global position, as filled) of the third and fourth was archived (\`archiveEvents\`); then the four logs and archives were vacuumed and analyzed. \`raw pg, readAll\`: the same pages from the start with one \`pg\` query each on the hot table (\`SELECT *\`, keyset on global_position, no mapping), only in the two stores without an archive, where it reads the same events as readAll.`);
  console.log(`- Date: ${new Date().toISOString()}; ${machine.cores} CPUs (${machine.cpu}); RAM ${machine.ramGiB} GiB; ${machine.platform}; Node ${machine.node}; ${machine.postgres.split(' on ')[0]}.`);
  console.log(`- Load average before: ${loadBefore.map((l) => l.toFixed(2)).join(', ')}; after: ${os.loadavg().map((l) => l.toFixed(2)).join(', ')}.`);
} finally {
  for (const { pool } of rawReads.values()) await pool.end();
  for (const store of stores.values()) await store.close();
  for (const target of targets) await dropStoreSchemas(target.schema);
}
