/**
 * `npm run bench:privacy`: what personal data protection costs (docs/privacy.md). The same
 * events appended to a plain store and, with one personal field each, to a sealed one;
 * both logs read back by Annals and by raw pg doing the same work; AES-256-GCM alone in a
 * loop; `forget` and `verifyErasure` against the same work by hand. Side by side in one
 * run, rounds interleaved; medians. Prints the section "Issue 16: personal data" and
 * writes it into docs/benchmarks.md (`--no-write` only prints). Settings in
 * privacy-workload.ts (BENCH_PRIVACY_*); about four minutes with the defaults on 2 busy cores.
 */
import os from 'node:os';
import pg from 'pg';
import { createEventStore, type EventStore } from '../../src/index.js';
import { adminQuery, databaseUrl, freshName, machineDetails, now, quoteIdent, watchSurroundings } from '../harness.js';
import { cryptoLoop, keyRoundTrips, type CryptoFigures, type KeyRoundTrips } from './crypto-limit.js';
import { erasureRound, type ErasureRound } from './erasure.js';
import { appendKey, readKey, renderPrivacySection, writePrivacySection, type PrivacyRun, type ReadFigure, type ReadMeasure, type Reader } from './privacy-report.js';
import { inProcess, type InProcessFigures } from './in-process.js';
import { appendEvents, masterKey, masterKeyText, readLog, readStreams, settings, sides, storeReader, type Append, type LogReader, type Side } from './privacy-workload.js';
import { RawAppender } from './raw-appender.js';
import { RawReader } from './raw-reader.js';
import { commitMeasured } from '../harness.js';


/** Each side in turn, the first side alternating by round. */
const inTurn = <T>(items: readonly T[], round: number): T[] => (round % 2 === 0 ? [...items] : [...items].reverse());

const started = now();
const machine = await machineDetails();
const loadBefore = os.loadavg();
const surroundings = watchSurroundings();
const schemas: Record<Side, string> = { plain: freshName('privacy_plain'), sealed: freshName('privacy_sealed') };
const rawSchemas: Record<Side, string> = { plain: freshName('privacy_raw_plain'), sealed: freshName('privacy_raw_sealed') };
const stores = new Map<Side, EventStore>();
const rawAppenders = new Map<Side, RawAppender>();
const rawReaders = new Map<Side, RawReader>();
const pool = new pg.Pool({ connectionString: databaseUrl, max: settings.callers });
const client = new pg.Client({ connectionString: databaseUrl });
await client.connect();
try {
  const writers: { writer: Reader; side: Side; append: Append }[] = [];
  for (const side of sides) {
    const store = createEventStore({ connectionString: databaseUrl, maxConnections: 20 }, { schema: schemas[side], privacy: { masterKey: masterKeyText } });
    stores.set(side, store);
    await store.migrate();
    writers.push({ writer: 'annals', side, append: (id, events) => store.appendToStream(id, events) });
  }
  for (const side of sides) {
    const raw = await RawAppender.open(databaseUrl, { schema: rawSchemas[side], keySchema: `${schemas.sealed}#keys`, masterKey, maxConnections: 20 });
    rawAppenders.set(side, raw);
    writers.push({ writer: 'raw', side, append: (id, events) => raw.append(id, events) });
  }
  // Unmeasured: every stream gets events and every subject its key (the sealed store makes
  // them first: raw pg uses its keys), plans and JIT warm up.
  for (const { append, side } of writers) {
    await appendEvents(append, side, 'single', settings.streams);
    await appendEvents(append, side, 'batch', 10 * settings.batch);
  }

  const appends = new Map<string, number[]>();
  for (let round = 0; round < settings.rounds; round++) {
    for (const mode of ['single', 'batch'] as const) {
      for (const { writer, side, append } of inTurn(writers, round)) {
        // Raw pg's single-event appends: a quarter as many (the rate is what counts), to keep the run short.
        const events = writer === 'raw' && mode === 'single' ? settings.events / 4 : settings.events;
        const rate = await appendEvents(append, side, mode, events, (round * settings.events) / settings.batch);
        const key = appendKey(mode, writer, side);
        appends.set(key, [...(appends.get(key) ?? []), rate]);
        console.log(`round ${round + 1}, append ${mode}, ${writer} ${side}: ${Math.round(rate)} events/s`);
      }
    }
  }
  for (const raw of rawAppenders.values()) await raw.close();
  rawAppenders.clear();
  await adminQuery(sides.flatMap((side) => [`VACUUM ANALYZE ${quoteIdent(schemas[side])}."events"`, `VACUUM ANALYZE ${quoteIdent(`${schemas[side]}#keys`)}."data_keys"`]));

  for (const side of sides) rawReaders.set(side, await RawReader.open(databaseUrl, schemas[side], masterKey));
  const contestants: { reader: Reader; side: Side; log: LogReader }[] = sides.flatMap((side) => [
    { reader: 'annals' as const, side, log: storeReader(stores.get(side)!) },
    { reader: 'raw' as const, side, log: rawReaders.get(side)! },
  ]);
  for (const { log } of contestants) {
    await readLog(log, 10_000);
    await readStreams(log, 100);
  }
  const reads = new Map<string, ReadMeasure[]>();
  const crypto: CryptoFigures[] = [];
  const annalsCrypto: InProcessFigures[] = [];
  const keyTrips: KeyRoundTrips[] = [];
  let logEvents = 0;
  for (let round = 0; round < settings.rounds; round++) {
    for (const figure of ['readAll', 'readStream'] as ReadFigure[]) {
      for (const { reader, side, log } of inTurn(contestants, round)) {
        rawReaders.get(side)!.takeParts();
        const begun = now();
        const { events } = figure === 'readAll' ? await readLog(log) : await readStreams(log);
        const ms = now() - begun;
        const units = figure === 'readAll' ? Math.ceil(events / settings.page) : settings.streams;
        const measure: ReadMeasure = { ms, events, units, ...(reader === 'raw' ? { parts: rawReaders.get(side)!.takeParts() } : {}) };
        reads.set(readKey(figure, reader, side), [...(reads.get(readKey(figure, reader, side)) ?? []), measure]);
        if (figure === 'readAll') logEvents = events;
        console.log(`round ${round + 1}, ${figure}, ${reader} ${side}: ${Math.round((events * 1000) / ms)} events/s (${events} events, ${Math.round(ms)} ms)`);
      }
    }
    crypto.push(cryptoLoop(settings.events, settings.streams));
    annalsCrypto.push(await inProcess(settings.events, settings.streams));
    keyTrips.push(await keyRoundTrips(pool, `${schemas.sealed}#keys`, { count: settings.streams, subjects: settings.streams, callers: settings.callers }));
    console.log(`round ${round + 1}, crypto: ${JSON.stringify(crypto.at(-1))}, in process: ${JSON.stringify(annalsCrypto.at(-1))}, key round trips: ${JSON.stringify(keyTrips.at(-1))}`);
  }

  const bytesPerEvent = {} as Record<Side, number>;
  for (const side of sides) {
    const table = `${quoteIdent(schemas[side])}."events"`;
    const { rows } = await client.query<{ bytes: string; n: string }>(`SELECT pg_total_relation_size('${table.replaceAll("'", "''")}') AS bytes, (SELECT count(*) FROM ${table}) AS n`);
    bytesPerEvent[side] = Number(rows[0]!.bytes) / Number(rows[0]!.n);
  }

  // Unmeasured: forget, verifyErasure and the raw statements run once before the rounds.
  await erasureRound(stores.get('sealed')!, client, -1);
  const erasure: ErasureRound[] = [];
  for (let round = 0; round < settings.rounds; round++) {
    erasure.push(await erasureRound(stores.get('sealed')!, client, round));
    const last = erasure.at(-1)!;
    console.log(`round ${round + 1}, erasure: forget ${JSON.stringify([...last.forgetMs])} ms, raw ${JSON.stringify([...last.rawForgetMs])} ms, verify ${Math.round(last.verifyRate)} events/s, raw scan ${Math.round(last.rawScanRate)} events/s`);
  }

  const run: PrivacyRun = {
    date: new Date(),
    seconds: (now() - started) / 1000,
    commit: commitMeasured(),
    machine,
    surroundings: await surroundings.stop(),
    loadBefore,
    loadAfter: os.loadavg(),
    settings,
    appends,
    reads,
    logEvents,
    bytesPerEvent,
    crypto,
    annalsCrypto,
    keyTrips,
    erasure,
  };
  console.log(`\n## Issue 16: personal data\n\n${renderPrivacySection(run)}`);
  if (!process.argv.includes('--no-write')) {
    await writePrivacySection(run);
    console.log('\nWrote section "Issue 16: personal data" of docs/benchmarks.md.');
  }
} finally {
  await surroundings.stop();
  for (const store of stores.values()) await store.close();
  for (const raw of rawAppenders.values()) await raw.close();
  for (const reader of rawReaders.values()) await reader.close();
  await pool.end();
  await client.end();
  await adminQuery([...Object.values(schemas), ...Object.values(rawSchemas)].flatMap((schema) => [schema, `${schema}#keys`]).map((schema) => `DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`));
}
