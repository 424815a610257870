/**
 * `npm run bench:growth [-- --sizes 1000000,10000000] [--keep] [--no-write]`: appends and
 * reads as the log grows (issue 17, "Growth"), with random (UUIDv4) and time-ordered
 * (UUIDv7) event ids side by side. Two stores are filled in turns, a million events at a
 * time, through appendToStream; at each size both are settled (vacuum, checkpoint) and
 * measured in windows interleaved round by round, the order of the two swapped every
 * round. Writes the section "The log as it grows" of docs/benchmarks.md after each size.
 *
 * The stores live in the schemas bench_growth_v4 and bench_growth_v7. With --keep they
 * stay for the next run (also started with --keep), which takes them up where they were:
 * filling 50M events takes most of an hour on two cores, and a run to 50M can start from
 * a kept 10M. Without --keep a run starts from empty stores.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { withSection } from '../compare/doc-section.js';
import { commitMeasured, dropStoreSchemas, machineDetails, settings, watchSurroundings } from '../harness.js';
import { GrowthStore, idKinds } from './growth-store.js';
import { renderGrowth, type Measured } from './growth-report.js';

export const growthSectionTitle = 'The log as it grows';

const fillChunk = 1_000_000;

const { values: options } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000000,10000000' },
    keep: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
  },
});
const sizes = options.sizes.split(',').map((part) => Number(part.replaceAll('_', '')));
if (sizes.some((size, index) => !Number.isSafeInteger(size) || size < 1_000 || (index > 0 && size <= sizes[index - 1]!))) {
  throw new Error(`--sizes: whole numbers of events, at least 1000, in ascending order; got '${options.sizes}'`);
}

async function measureSize(stores: readonly GrowthStore[], size: number, sizeIndex: number): Promise<Measured[]> {
  const fills = stores.map((store) => ({ from: store.filled, ms: 0 }));
  while (stores.some((store) => store.filled < size)) {
    for (const [index, store] of stores.entries()) {
      if (store.filled >= size) continue;
      const before = store.filled;
      const ms = await store.fillTo(Math.min(size, before + fillChunk));
      fills[index]!.ms += ms;
      console.log(`  ${store.kind.label}: ${store.filled.toLocaleString('en-US')} events (${Math.round(((store.filled - before) * 1000) / ms)} events/s)`);
    }
  }
  for (const store of stores) await store.settle();
  const results: Measured[] = stores.map((store, index) => ({
    size,
    kind: store.kind,
    fillRate: fills[index]!.ms > 0 ? ((store.filled - fills[index]!.from) * 1000) / fills[index]!.ms : Number.NaN,
    single: [],
    batch: [],
    readStream: [],
    readPages: [],
    eventsAfter: 0,
    bytes: { events: 0, eventIdIndex: 0 },
    otherSessionSamples: '',
  }));
  for (let round = 0; round < settings.rounds; round++) {
    for (let turn = 0; turn < stores.length; turn++) {
      const index = (turn + round) % stores.length;
      const store = stores[index]!;
      const result = results[index]!;
      const warmupMs = round === 0 ? settings.warmupMs : settings.rewarmMs;
      result.single.push(await store.appendWindow(16, 1, warmupMs));
      result.batch.push(await store.appendWindow(1, 100, warmupMs));
      result.readStream.push(await store.readStreamWindow(16, warmupMs));
      result.readPages.push(await store.readPagesWindow(warmupMs));
    }
  }
  for (const [index, store] of stores.entries()) {
    results[index]!.bytes = await store.sizes();
    results[index]!.eventsAfter = await store.eventsInLog();
  }
  // Reading the whole log does not depend on the ids: one store is enough (at 50M it takes
  // minutes). Which reader goes first alternates by size, as the first warms the caches.
  const reader = results.find((result) => result.kind.key === 'v7')!;
  const store = stores.find((candidate) => candidate.kind.key === 'v7')!;
  console.log('  reading the whole log');
  if (sizeIndex % 2 === 0) {
    const annals = await store.iterateLog();
    reader.logRead = { annals, raw: await store.rawIterateLog(), annalsFirst: true };
  } else {
    const raw = await store.rawIterateLog();
    reader.logRead = { annals: await store.iterateLog(), raw, annalsFirst: false };
  }
  return results;
}

const started = Date.now();
const machine = await machineDetails();
const schemas = idKinds.map((kind) => `bench_growth_${kind.key}`);
if (!options.keep) for (const schema of schemas) await dropStoreSchemas(schema);
const stores: GrowthStore[] = [];
const measured: Measured[] = [];
try {
  for (const [index, kind] of idKinds.entries()) stores.push(await GrowthStore.open(kind, schemas[index]!));
  const serverSettings = await stores[0]!.serverSettings();
  for (const [sizeIndex, size] of sizes.entries()) {
    if (stores.every((store) => store.filled >= size)) {
      console.log(`${size.toLocaleString('en-US')} events: the kept stores hold more already; skipped`);
      continue;
    }
    console.log(`${size.toLocaleString('en-US')} events`);
    const watcher = watchSurroundings();
    const results = await measureSize(stores, size, sizeIndex);
    const seen = await watcher.stop();
    for (const result of results) result.otherSessionSamples = `${seen.busySamples} of ${seen.samples}`;
    measured.push(...results);
    const header = `Generated by \`npm run bench:growth -- --sizes ${options.sizes}\` on ${new Date().toISOString()} (${Math.round((Date.now() - started) / 1000)} s so far), commit ${commitMeasured()}; ${machine.cpu}, ${machine.cores} cores, ${machine.ramGiB} GiB, Node ${machine.node}, ${machine.postgres.split(' on ')[0]} (${serverSettings}).`;
    const section = renderGrowth(measured, header);
    console.log(`\n${section}\n`);
    if (!options['no-write']) {
      const file = new URL('../../docs/benchmarks.md', import.meta.url);
      await writeFile(file, withSection(await readFile(file, 'utf8'), growthSectionTitle, section));
    }
  }
} finally {
  await Promise.all(stores.map((store) => store.close()));
  if (!options.keep) for (const schema of schemas) await dropStoreSchemas(schema);
}
