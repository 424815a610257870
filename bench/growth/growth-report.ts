/** The section "The log as it grows" of docs/benchmarks.md, from run-growth.ts's measurements. */
import { formatMiB, formatMs, formatRate, formatRatio, markdownTable, settings } from '../harness.js';
import { median, percentile } from '../median.js';
import { fillConcurrency, fillStreamLength, hotStreams, type AppendFigure, type IdKind, type LogRead } from './growth-store.js';

/** One store at one size. */
export interface Measured {
  size: number;
  kind: IdKind;
  /** Events/s while filling from the size before to this one (NaN: a kept store needed no filling). */
  fillRate: number;
  single: AppendFigure[];
  batch: AppendFigure[];
  readStream: number[];
  readPages: number[];
  /** Events in the log after the windows: the fill's and the windows' own. */
  eventsAfter: number;
  bytes: { events: number; eventIdIndex: number };
  /** One-second samples in which another program had a non-idle Postgres session, "n of m". */
  otherSessionSamples: string;
  /** The whole log read from its start (the store with time-ordered ids only). */
  logRead?: { annals: LogRead; raw: LogRead; annalsFirst: boolean };
}

const rate = (figures: readonly AppendFigure[]) => median(figures.map((figure) => figure.eventsPerSecond));
const wal = (figures: readonly AppendFigure[]) => median(figures.map((figure) => figure.walBytesPerEvent));
const latencies = (figures: readonly AppendFigure[]) => figures.flatMap((figure) => figure.latencies);
const count = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a');
const eventsPerSecond = (value: number) => (Number.isFinite(value) ? formatRate(value) : 'n/a');

function figuresTable(measured: readonly Measured[]): string {
  const rows = measured.map((result) => [
    result.size.toLocaleString('en-US'),
    result.kind.label,
    eventsPerSecond(result.fillRate),
    formatRate(rate(result.single)),
    `${formatMs(percentile(latencies(result.single), 0.5))} / ${formatMs(percentile(latencies(result.single), 0.99))}`,
    count(wal(result.single)),
    formatRate(rate(result.batch)),
    count(wal(result.batch)),
    formatRate(median(result.readStream)),
    formatRate(median(result.readPages)),
    count(result.eventsAfter),
    formatMiB(result.bytes.events),
    formatMiB(result.bytes.eventIdIndex),
  ]);
  return markdownTable(
    [
      'filled to (events)',
      'event ids',
      'filling to it: events/s',
      'single-event appends, concurrency 16: events/s',
      'their p50 / p99, ms',
      'their WAL bytes per event',
      'batches of 100, concurrency 1: events/s',
      'their WAL bytes per event',
      'readStream of random 100-event streams, concurrency 16: events/s',
      'readAll pages of 1,000 from random streams’ first events: events/s',
      'events in the log after the windows',
      'events table with its indexes',
      'event_id index',
    ],
    rows,
    ['right', 'left', ...new Array<'right'>(11).fill('right')],
  );
}

function ratiosTable(measured: readonly Measured[]): string {
  const rows = [...new Set(measured.map((result) => result.size))].map((size) => {
    const of = (key: IdKind['key']) => measured.find((result) => result.size === size && result.kind.key === key)!;
    const v4 = of('v4');
    const v7 = of('v7');
    return [
      size.toLocaleString('en-US'),
      Number.isFinite(v4.fillRate) && Number.isFinite(v7.fillRate) ? formatRatio(v7.fillRate, v4.fillRate) : 'n/a',
      formatRatio(rate(v7.single), rate(v4.single)),
      formatRatio(percentile(latencies(v4.single), 0.99), percentile(latencies(v7.single), 0.99)),
      formatRatio(wal(v4.single), wal(v7.single)),
      formatRatio(rate(v7.batch), rate(v4.batch)),
      formatRatio(wal(v4.batch), wal(v7.batch)),
      formatRatio(median(v7.readStream), median(v4.readStream)),
      formatRatio(v4.bytes.eventIdIndex, v7.bytes.eventIdIndex),
      v4.otherSessionSamples,
    ];
  });
  return markdownTable(
    [
      'filled to (events)',
      'filling: v7 / v4 events/s',
      'single-event appends: v7 / v4 events/s',
      'their p99: v4 / v7 ms',
      'their WAL: v4 / v7 bytes',
      'batches of 100: v7 / v4 events/s',
      'their WAL: v4 / v7 bytes',
      'readStream: v7 / v4 events/s',
      'event_id index: v4 / v7 bytes',
      'samples with other programs’ Postgres sessions busy',
    ],
    rows,
    ['right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
  );
}

function logReadTable(measured: readonly Measured[]): string {
  const rows = measured.flatMap(({ size, logRead }) =>
    logRead === undefined
      ? []
      : [
          [
            size.toLocaleString('en-US'),
            logRead.annalsFirst ? 'iterateAll' : 'raw pg',
            formatRate(logRead.annals.eventsPerSecond),
            formatRate(logRead.raw.eventsPerSecond),
            formatRatio(logRead.annals.eventsPerSecond, logRead.raw.eventsPerSecond),
            `${formatMiB(logRead.annals.peakHeapBytes)} / ${formatMiB(logRead.annals.retainedHeapBytes)}`,
            `${formatMiB(logRead.raw.peakHeapBytes)} / ${formatMiB(logRead.raw.retainedHeapBytes)}`,
          ],
        ],
  );
  return markdownTable(
    ['filled to (events)', 'read first', 'iterateAll: events/s', 'raw pg: events/s', 'Annals / raw', 'iterateAll heap: peak / retained', 'raw pg heap: peak / retained'],
    rows,
    ['right', 'left', 'right', 'right', 'right', 'right', 'right'],
  );
}

export function renderGrowth(measured: readonly Measured[], header: string): string {
  return [
    header,
    figuresTable(measured),
    'Time-ordered (v7) against random (v4) ids, each ratio oriented so that above 1.00x favours time-ordered ids:',
    ratiosTable(measured),
    'The whole log read from its start in pages of 1,000, in the store with time-ordered ids, one read each in this process; heap above what was in use after a collection just before the read, "peak" at the end of any page (garbage not yet collected included), "retained" right after a collection every 100 pages:',
    logReadTable(measured),
    `Each rate is the median of ${settings.rounds} windows of ${settings.measureMs} ms, the two stores' windows interleaved round by round after both were vacuumed and checkpointed; p50 and p99 are over every append of those windows. The fill appends one new ${fillStreamLength}-event stream per call from ${fillConcurrency} callers; the append windows append to ${hotStreams.toLocaleString('en-US')} streams of their own, as \`npm run bench\` does. WAL bytes per event are the server's WAL insert position moved over a whole window, warm-up included, divided by the events the window appended (the whole server's WAL: the last column says whether anything else ran). The raw whole-log read is plain \`pg\` with the minimal keyset query (bench/growth/).`,
  ].join('\n\n');
}
