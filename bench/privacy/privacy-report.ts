/**
 * Turns the figures of `npm run bench:privacy` into the generated part of the section
 * "Issue 16: personal data" of docs/benchmarks.md (text written by hand after the
 * section's end marker stays when it is run again).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { formatMs, formatRate, markdownTable, type MachineDetails, type Surroundings } from '../harness.js';
import { median } from '../median.js';
import { withSection } from '../compare/doc-section.js';
import type { CryptoFigures, KeyRoundTrips } from './crypto-limit.js';
import { forgetSizes, type ErasureRound } from './erasure.js';
import type { InProcessFigures } from './in-process.js';
import type { ReadParts } from './raw-reader.js';
import type { AppendMode, Side } from './privacy-workload.js';

export const privacySectionTitle = 'Issue 16: personal data';

/** One measured read: how long, how many events, how many pages or streams. */
export interface ReadMeasure {
  ms: number;
  events: number;
  units: number;
  /** For raw pg on the sealed log: where the time went. */
  parts?: ReadParts;
}

export type ReadFigure = 'readAll' | 'readStream';
export type Reader = 'annals' | 'raw';

export interface PrivacyRun {
  date: Date;
  seconds: number;
  commit: string;
  machine: MachineDetails;
  surroundings: Surroundings;
  loadBefore: number[];
  loadAfter: number[];
  settings: { events: number; streams: number; rounds: number; callers: number; batch: number; page: number };
  /** Events/s per round, by `${mode}/${writer}/${side}`. */
  appends: Map<string, number[]>;
  /** Per round, by `${figure}/${reader}/${side}`. */
  reads: Map<string, ReadMeasure[]>;
  logEvents: number;
  bytesPerEvent: Record<Side, number>;
  crypto: CryptoFigures[];
  annalsCrypto: InProcessFigures[];
  keyTrips: KeyRoundTrips[];
  erasure: ErasureRound[];
}

export const appendKey = (mode: AppendMode, writer: Reader, side: Side): string => `${mode}/${writer}/${side}`;
export const readKey = (figure: ReadFigure, reader: Reader, side: Side): string => `${figure}/${reader}/${side}`;

/** Median, and the same-round ratios' median and range, as table cells. */
function sideBySide(plain: number[], sealed: number[], format: (value: number) => string): string[] {
  const ratios = plain.map((value, i) => sealed[i]! / value).sort((a, b) => a - b);
  return [format(median(plain)), format(median(sealed)), `${median(ratios).toFixed(2)}x (${ratios[0]!.toFixed(2)}x to ${ratios.at(-1)!.toFixed(2)}x)`];
}

const perSecond = (m: ReadMeasure, unit: 'events' | 'units') => (unit === 'events' ? m.events : m.units) / (m.ms / 1000);
const usPerEvent = (m: ReadMeasure) => (m.ms * 1000) / m.events;
const fixed = (digits: number) => (value: number) => value.toFixed(digits);

function mainTable(run: PrivacyRun): string {
  const { settings } = run;
  const appendRow = (mode: AppendMode, writer: Reader, label: string) =>
    [label, ...sideBySide(run.appends.get(appendKey(mode, writer, 'plain'))!, run.appends.get(appendKey(mode, writer, 'sealed'))!, formatRate)];
  const readRow = (figure: ReadFigure, reader: Reader, label: string) => {
    const unit = figure === 'readAll' ? 'events' : 'units';
    const rates = (side: Side) => run.reads.get(readKey(figure, reader, side))!.map((m) => perSecond(m, unit));
    return [label, ...sideBySide(rates('plain'), rates('sealed'), formatRate)];
  };
  const rawAppend = '... raw pg, same statement (sealed: + key lookup + node:crypto)';
  const rawRead = '... raw pg, same rows (sealed: + key query + node:crypto)';
  const rows = [
    appendRow('single', 'annals', `append, 1 event per call, ${settings.callers} callers (events/s)`),
    appendRow('single', 'raw', `${rawAppend} (events/s)`),
    appendRow('batch', 'annals', `append, ${settings.batch} events per call, 1 caller (events/s)`),
    appendRow('batch', 'raw', `${rawAppend} (events/s)`),
    readRow('readAll', 'annals', `readAll, whole log in pages of ${formatRate(settings.page)} (events/s)`),
    readRow('readAll', 'raw', `${rawRead} (events/s)`),
    readRow('readStream', 'annals', `readStream of each of the ${formatRate(settings.streams)} streams, 1 caller (streams/s)`),
    readRow('readStream', 'raw', `${rawRead} (streams/s)`),
  ];
  return markdownTable([`median of ${settings.rounds} rounds`, 'plain', 'sealed', 'sealed / plain, same round'], rows, ['left', 'right', 'right', 'right']);
}

/** Where a sealed read's extra time goes, per event, from raw pg's parts and the crypto loop. */
function readCostTable(run: PrivacyRun): string {
  const rounds = run.settings.rounds;
  const gap = (figure: ReadFigure, reader: Reader) =>
    median(Array.from({ length: rounds }, (_, i) => usPerEvent(run.reads.get(readKey(figure, reader, 'sealed'))![i]!) - usPerEvent(run.reads.get(readKey(figure, reader, 'plain'))![i]!)));
  const part = (figure: ReadFigure, pick: (parts: ReadParts) => number) =>
    median(run.reads.get(readKey(figure, 'raw', 'sealed'))!.map((m) => (pick(m.parts!) * 1000) / m.events));
  const keysPerQuery = (figure: ReadFigure) => median(run.reads.get(readKey(figure, 'raw', 'sealed'))!.map((m) => m.parts!.keysUnwrapped / Math.max(1, m.parts!.keyQueries)));
  const openUs = median(run.crypto.map((c) => c.openUs));
  const revealUs = median(run.annalsCrypto.map((c) => c.revealUs));
  const both = (label: string, value: (figure: ReadFigure) => number) => [label, fixed(2)(value('readAll')), fixed(2)(value('readStream'))];
  const rows = [
    both('Annals: sealed minus plain', (figure) => gap(figure, 'annals')),
    both('raw pg: sealed minus plain', (figure) => gap(figure, 'raw')),
    both('  raw pg: the key query (one per page or stream)', (figure) => part(figure, (p) => p.keyQueryMs)),
    both('  raw pg: unwrapping the keys with the master key', (figure) => part(figure, (p) => p.unwrapMs)),
    both('  raw pg: opening the fields (AES-GCM, base64, JSON.parse)', (figure) => part(figure, (p) => p.openMs)),
    both('Annals in process: revealEvents with the keys at hand (no database)', () => revealUs),
    both('AES-256-GCM open alone (node:crypto loop)', () => openUs),
    ['keys per key query (distinct subjects per page or stream)', formatRate(keysPerQuery('readAll')), formatRate(keysPerQuery('readStream'))],
  ];
  return markdownTable(['µs per event read (medians)', 'readAll', 'readStream'], rows, ['left', 'right', 'right']);
}

/** The crypto alone and one key lookup, against what a sealed append costs more per event. */
function appendCostTable(run: PrivacyRun): string {
  const gap = (mode: AppendMode, writer: Reader) => {
    const plain = run.appends.get(appendKey(mode, writer, 'plain'))!;
    const sealed = run.appends.get(appendKey(mode, writer, 'sealed'))!;
    return median(plain.map((rate, i) => 1e6 / sealed[i]! - 1e6 / rate));
  };
  const bySubjectUs = median(run.keyTrips.map((k) => k.bySubjectMs)) * 1000;
  const concurrentUs = median(run.keyTrips.map((k) => k.bySubjectConcurrentUs));
  const sealUs = median(run.crypto.map((c) => c.sealUs));
  const ivUs = median(run.crypto.map((c) => c.ivUs));
  const annalsSealUs = median(run.annalsCrypto.map((c) => c.sealUs));
  const { callers, batch } = run.settings;
  const rows = [
    ['Annals: sealed minus plain (from the throughputs)', fixed(2)(gap('single', 'annals')), fixed(2)(gap('batch', 'annals'))],
    ['raw pg: sealed minus plain (from the throughputs)', fixed(2)(gap('single', 'raw')), fixed(2)(gap('batch', 'raw'))],
    [`  the key lookup by subject, raw pg (${callers} callers' throughput; 1 caller's round trip / ${batch})`, fixed(2)(concurrentUs), fixed(2)(bySubjectUs / batch)],
    ['  Annals in process: sealEvents with the keys at hand (no database)', fixed(2)(annalsSealUs), fixed(2)(annalsSealUs)],
    ['  AES-256-GCM seal alone (node:crypto loop)', fixed(2)(sealUs), fixed(2)(sealUs)],
    ['    of which randomBytes(12), the fresh IV', fixed(2)(ivUs), fixed(2)(ivUs)],
  ];
  return markdownTable(['µs per event appended (medians)', '1 per call', `${batch} per call`], rows, ['left', 'right', 'right']);
}

function erasureTable(run: PrivacyRun): string {
  const ms = (pick: (round: ErasureRound) => number) => formatMs(median(run.erasure.map(pick)));
  const rows: string[][] = forgetSizes.map((events) => [
    `forget, a subject with ${formatRate(events)} event${events === 1 ? '' : 's'} (ms)`,
    ms((r) => r.forgetMs.get(events)!),
    ms((r) => r.rawForgetMs.get(events)!),
    `${median(run.erasure.map((r) => r.forgetMs.get(events)! / r.rawForgetMs.get(events)!)).toFixed(0)}x`,
  ]);
  rows.push([
    'verifyErasure with one value, whole log (events scanned/s)',
    formatRate(median(run.erasure.map((r) => r.verifyRate))),
    formatRate(median(run.erasure.map((r) => r.rawScanRate))),
    `${median(run.erasure.map((r) => r.verifyRate / r.rawScanRate)).toFixed(2)}x`,
  ]);
  return markdownTable([`erasure on the sealed log (median of ${run.settings.rounds} rounds)`, 'Annals', 'raw pg', 'Annals / raw pg, same round'], rows, ['left', 'right', 'right', 'right']);
}

function loads(values: number[]): string {
  return values.map((value) => value.toFixed(2)).join(', ');
}

function machineLines(run: PrivacyRun): string[] {
  const { machine, surroundings } = run;
  const shared = surroundings.busySamples > 0 || surroundings.maxLoadAverage > machine.cores;
  return [
    `- Date: ${run.date.toISOString()}; the run took ${Math.round(run.seconds)} s; commit ${run.commit}.`,
    `- ${machine.cores} CPUs (${machine.cpu}); RAM ${machine.ramGiB} GiB; ${machine.platform}; Node ${machine.node}; ${machine.postgres.replace(/ on .*/, '')}, on the same machine, default settings.`,
    `- Load average (1, 5, 15 min): ${loads(run.loadBefore)} before the run, ${loads(run.loadAfter)} after; the 1-minute figure reached ${surroundings.maxLoadAverage.toFixed(1)} during it. Other programs had non-idle Postgres sessions in ${surroundings.busySamples} of ${surroundings.samples} one-second samples (at most ${surroundings.maxOtherSessions} at once).`,
    ...(shared ? ['- **Preliminary**: the machine was shared with other programs during this run; absolute figures are low and noisy, the same-round ratios are the useful part.'] : []),
  ];
}

export function renderPrivacySection(run: PrivacyRun): string {
  const { settings } = run;
  const erasureLog = median(run.erasure.map((r) => r.logEvents));
  return `Generated by \`npm run bench:privacy\` (bench/privacy/run-privacy-bench.ts): two stores given the same
fixed master key (\`privacy.masterKey\`), one appended plain events and the other the same events
with \`personal: [{ subject, fields: ['owner'] }]\` (one subject per stream, ${formatRate(settings.streams)} streams); each
event has about 200 bytes of JSON data, the personal field 30 characters. In each of ${settings.rounds} rounds,
the contestants taking turns, first to last then last to first: ${formatRate(settings.events)} events one per call (${settings.callers} callers,
each owning its streams) and ${formatRate(settings.events)} in calls of ${settings.batch}, to each store, and the same through
raw pg (its own two schemas; the statement of bench/contestants/raw-pg.ts; sealed, a prepared
key lookup, the key unwrapped and the field sealed with node:crypto; ${formatRate(settings.events / 4)} single-event appends
a round, to keep the run short); after the appends, in
each round, the whole log read (${formatRate(run.logEvents)} events per store, pages of ${formatRate(settings.page)}) and every stream read once,
by Annals and by raw pg doing the same work (the same rows; where sealed, one query for the
keys, each key unwrapped and each field opened with node:crypto), and the same number of
AES-256-GCM seals and opens in a loop, and Annals' own sealing and opening with the keys at
hand. Subjects' keys were made in an unmeasured warm-up.
Stored size: ${formatRate(run.bytesPerEvent.plain)} bytes per event plain, ${formatRate(run.bytesPerEvent.sealed)} sealed (the events table with its indexes).

${mainTable(run)}

Where a sealed read's extra time goes:

${readCostTable(run)}

And a sealed append's:

${appendCostTable(run)}

Erasure, on the sealed log (${formatRate(erasureLog)} events): each round, fresh subjects with 1, 100 and 1,000
events forgotten by \`forget\` (which reads the subject's values, deletes the key, drops the
snapshots, appends a tombstone in one transaction, then verifies) and, side by side, by hand
(the key and the snapshots deleted in one transaction); then \`verifyErasure\` with one value
(which is nowhere in plaintext) against the same two scans of the log (data, metadata) by hand.

${erasureTable(run)}

${machineLines(run).join('\n')}`;
}

export async function writePrivacySection(run: PrivacyRun, reportFile = new URL('../../docs/benchmarks.md', import.meta.url)): Promise<void> {
  const page = await readFile(reportFile, 'utf8');
  await writeFile(reportFile, withSection(page, privacySectionTitle, renderPrivacySection(run)));
}
