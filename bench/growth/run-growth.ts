/**
 * `npm run bench:growth [-- --sizes 1000000,10000000] [--keep] [--no-write]`: appends and
 * reads as the log grows (issue 17, "Growth"), with random (UUIDv4) and time-ordered
 * (UUIDv7) event ids side by side. Two stores are filled in turns, a million events at a
 * time, through appendToStream; at each size both are measured in windows interleaved
 * round by round, the order of the two swapped every round. Writes the section "The log
 * as it grows" of docs/benchmarks.md after each size.
 *
 * The stores live in the schemas bench_growth_v4 and bench_growth_v7. With --keep they
 * stay for the next run, which takes them up where they were: filling 50M events takes
 * most of an hour on two cores, and a run to 50M can start from a kept 10M.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { withSection } from '../compare/doc-section.js';
import { commitMeasured, dropStoreSchemas, formatMiB, formatMs, formatRate, formatRatio, machineDetails, markdownTable, settings } from '../harness.js';
import { median } from '../median.js';
import { GrowthStore, idKinds, type AppendFigure, type LogRead } from './growth-store.js';

export const growthSectionTitle = 'The log as it grows';

const fillChunk = 1_000_000;

interface Measured {
  size: number;
  kind: GrowthStore['kind'];
  fillRate: number;
  single: AppendFigure[];
  batch: AppendFigure[];
  readStream: number[];
  readPages: number[];
  bytes: { events: number; eventIdIndex: number };
  /** The whole log read from its start, by iterateAll and by raw pg (the store with time-ordered ids only). */
  logRead?: { annals: LogRead; raw: LogRead };
}

const { values: options } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000000,10000000' },
    keep: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
  },
});
const sizes = options.sizes.split(',').map((part) => Number(part.replaceAll('_', '')));
if (sizes.some((size) => !Number.isSafeInteger(size) || size < 1_000)) {
  throw new Error(`--sizes: each size must be a whole number of events, at least 1000; got '${options.sizes}'`);
}

async function measureSize(stores: readonly GrowthStore[], size: number): Promise<Measured[]> {
  const fills = stores.map((store) => ({ from: store.filled, ms: 0 }));
  while (stores.some((store) => store.filled < size)) {
    for (const [index, store] of stores.entries()) {
      if (store.filled >= size) continue;
      const before = store.filled;
      const ms = await store.fillTo(Math.min(size, before + fillChunk));
      fills[index]!.ms += ms;
      console.log(`  ${store.kind.label}: ${store.filled.toLocaleString('en-US')} events (${formatRate(((store.filled - before) * 1000) / ms)} events/s)`);
    }
  }
  const results = stores.map((store, index) => {
    const fill = fills[index]!;
    const fillRate = fill.ms > 0 ? ((store.filled - fill.from) * 1000) / fill.ms : Number.NaN;
    return { size, kind: store.kind, fillRate, single: [], batch: [], readStream: [], readPages: [], bytes: { events: 0, eventIdIndex: 0 } } as Measured;
  });
  for (let round = 0; round < settings.rounds; round++) {
    const warmupMs = round === 0 ? settings.warmupMs : settings.rewarmMs;
    for (let turn = 0; turn < stores.length; turn++) {
      const index = (turn + round) % stores.length;
      const store = stores[index]!;
      const result = results[index]!;
      result.single.push(await store.appendWindow(16, 1, warmupMs));
      result.batch.push(await store.appendWindow(1, 100, warmupMs));
      result.readStream.push(await store.readStreamWindow(16, warmupMs));
      result.readPages.push(await store.readPagesWindow(warmupMs));
    }
  }
  for (const [index, store] of stores.entries()) results[index]!.bytes = await store.sizes();
  // Reading the whole log does not depend on the ids; one store is enough, and at 50M it takes minutes.
  const reader = stores.findIndex((store) => store.kind.key === 'v7');
  console.log('  reading the whole log');
  results[reader]!.logRead = { annals: await stores[reader]!.iterateLog(), raw: await stores[reader]!.rawIterateLog() };
  return results;
}

function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? Number.NaN;
}

const rate = (figures: readonly AppendFigure[]) => median(figures.map((figure) => figure.eventsPerSecond));
const wal = (figures: readonly AppendFigure[]) => median(figures.map((figure) => figure.walBytesPerEvent));
const latencies = (figures: readonly AppendFigure[]) => figures.flatMap((figure) => figure.latencies);

function render(measured: readonly Measured[], header: string): string {
  const rows = measured.map((result) => [
    result.size.toLocaleString('en-US'),
    result.kind.label,
    formatRate(result.fillRate),
    formatRate(rate(result.single)),
    `${formatMs(percentile(latencies(result.single), 0.5))} / ${formatMs(percentile(latencies(result.single), 0.99))}`,
    Math.round(wal(result.single)).toLocaleString('en-US'),
    formatRate(rate(result.batch)),
    Math.round(wal(result.batch)).toLocaleString('en-US'),
    formatRate(median(result.readStream)),
    formatRate(median(result.readPages)),
    formatMiB(result.bytes.events),
    formatMiB(result.bytes.eventIdIndex),
  ]);
  const table = markdownTable(
    [
      'events in the log',
      'event ids',
      'filling to it: events/s',
      'single-event append, concurrency 16: events/s',
      'its p50 / p99, ms',
      'WAL bytes per event',
      'batches of 100, concurrency 1: events/s',
      'WAL bytes per event',
      'readStream of random 100-event streams, concurrency 16: events/s',
      'readAll pages of 1,000 from random places: events/s',
      'events table with its indexes',
      'event_id index',
    ],
    rows,
    ['right', 'left', ...new Array<'right'>(10).fill('right')],
  );
  const bySize = [...new Set(measured.map((result) => result.size))].map((size) => {
    const [v4, v7] = idKinds.map((kind) => measured.find((result) => result.size === size && result.kind.key === kind.key)!);
    return [
      size.toLocaleString('en-US'),
      formatRatio(v7!.fillRate, v4!.fillRate),
      formatRatio(rate(v7!.single), rate(v4!.single)),
      formatRatio(wal(v4!.single), wal(v7!.single)),
      formatRatio(rate(v7!.batch), rate(v4!.batch)),
      formatRatio(wal(v4!.batch), wal(v7!.batch)),
      formatRatio(median(v7!.readStream), median(v4!.readStream)),
      formatRatio(v4!.bytes.eventIdIndex, v7!.bytes.eventIdIndex),
    ];
  });
  const ratios = markdownTable(
    ['events in the log', 'filling', 'single-event appends', 'their WAL (v4 / v7)', 'batches of 100', 'their WAL (v4 / v7)', 'readStream', 'event_id index size (v4 / v7)'],
    bySize,
    ['right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
  );
  const reads = measured.flatMap((result) =>
    result.logRead === undefined
      ? []
      : [
          [
            result.size.toLocaleString('en-US'),
            formatRate(result.logRead.annals.eventsPerSecond),
            formatRate(result.logRead.raw.eventsPerSecond),
            formatRatio(result.logRead.annals.eventsPerSecond, result.logRead.raw.eventsPerSecond),
            formatMiB(result.logRead.annals.peakHeapBytes),
            formatMiB(result.logRead.raw.peakHeapBytes),
          ],
        ],
  );
  const readTable = markdownTable(
    ['events in the log', 'iterateAll: events/s', 'raw pg: events/s', 'Annals / raw', 'iterateAll: peak heap above the heap before', 'raw pg: the same'],
    reads,
    ['right', 'right', 'right', 'right', 'right', 'right'],
  );
  return [
    header,
    table,
    'Time-ordered ids over random ids (above 1.00x: time-ordered ids do better):',
    ratios,
    'The whole log read from its start in pages of 1,000 (the store with time-ordered ids; one read each, iterateAll first, in this process after a garbage collection):',
    readTable,
    `Each figure is the median of ${settings.rounds} windows of ${settings.measureMs} ms, the two stores' windows interleaved round by round; p50 and p99 are over every append of those windows. The fill appends one new 100-event stream per call from 4 callers; the append windows append to 1,000 streams of their own, as \`npm run bench\` does; WAL bytes per event are those written over a whole window, warm-up included, divided by the events it appended (bench/growth/).`,
  ].join('\n\n');
}

const started = Date.now();
const machine = await machineDetails();
const stores = await Promise.all(idKinds.map((kind) => GrowthStore.open(kind, `bench_growth_${kind.key}`)));
const sharedBuffers = String(await stores[0]!.scalar('SELECT current_setting($1) AS value', ['shared_buffers']));
const measured: Measured[] = [];
try {
  for (const size of sizes) {
    console.log(`${size.toLocaleString('en-US')} events`);
    measured.push(...(await measureSize(stores, size)));
    const header = `Generated by \`npm run bench:growth -- --sizes ${options.sizes}\` on ${new Date().toISOString()} (${Math.round((Date.now() - started) / 1000)} s so far), commit ${commitMeasured()}; ${machine.cpu}, ${machine.cores} cores, ${machine.ramGiB} GiB, Node ${machine.node}, ${machine.postgres.split(' on ')[0]}, default settings (shared_buffers ${sharedBuffers}).`;
    const section = render(measured, header);
    console.log(`\n${section}\n`);
    if (!options['no-write']) {
      const file = new URL('../../docs/benchmarks.md', import.meta.url);
      await writeFile(file, withSection(await readFile(file, 'utf8'), growthSectionTitle, section));
    }
  }
} finally {
  await Promise.all(stores.map((store) => store.close()));
  if (!options.keep) for (const store of stores) await dropStoreSchemas(store.schema);
}
