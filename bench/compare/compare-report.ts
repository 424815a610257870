/** Turns a comparison's figures into the generated part of its docs/benchmarks.md section. */
import { commandConcurrency, formatMs, formatRate, markdownTable, settings, type MachineDetails, type Surroundings } from '../harness.js';
import { median } from '../median.js';
import { rawPgLabel, type CompareFigure, type Side, type Versions } from './compare-figures.js';
import { latencyRounds, replayRounds } from './compare-projections.js';

export interface CompareRun {
  date: Date;
  seconds: number;
  /** The command that reproduces the run. */
  command: string;
  versions: Versions;
  machine: MachineDetails;
  /** 1-, 5- and 15-minute load averages just before and just after the run. */
  loadBefore: number[];
  loadAfter: number[];
  surroundings: Surroundings;
  figures: CompareFigure[];
}

const times = (value: number) => `${value.toFixed(2)}x`;

function medianOf(values: readonly number[] | undefined): number | undefined {
  return values && values.length > 0 ? median(values) : undefined;
}

/** A figure's unit; latencies in ms are the only figures where lower is better. */
const unitOf = (figure: CompareFigure) => figure.unit ?? 'events/s';

function formatValue(figure: CompareFigure, value: number | undefined): string {
  return unitOf(figure) === 'ms' ? formatMs(value) : formatRate(value);
}

/**
 * The `over` side's window divided by the `under` side's window of the same round (by
 * default this version's over the previous one's): they ran back to back, so each ratio
 * is less exposed to the machine's swings than the ratio of two medians taken minutes apart.
 */
export function pairedRatios(figure: CompareFigure, over: Side = 'current', under: Side = 'previous'): number[] {
  const numerators = figure.samples[over] ?? [];
  const denominators = figure.samples[under] ?? [];
  return numerators.flatMap((value, round) => (denominators[round] ? [value / denominators[round]] : []));
}

function ratioCell(figure: CompareFigure): string {
  const previous = medianOf(figure.samples.previous);
  const current = medianOf(figure.samples.current);
  return previous === undefined || current === undefined ? 'n/a' : times(current / previous);
}

/** The value below which a share `q` of the sorted `values` lie (linear interpolation). */
function quantile(sorted: readonly number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  return sorted[low]! + (sorted[Math.ceil(at)]! - sorted[low]!) * (at - low);
}

/**
 * The median same-round ratio and its middle half: the lowest and highest ratios are
 * mostly one side's window catching a burst of load from elsewhere.
 */
function roundsCell(figure: CompareFigure): string {
  const ratios = [...pairedRatios(figure)].sort((a, b) => a - b);
  if (ratios.length === 0) return 'n/a';
  return `${times(median(ratios))} (middle half ${times(quantile(ratios, 0.25))} to ${times(quantile(ratios, 0.75))})`;
}

/** previous / yardstick and this / yardstick, medians of same-round ratios. */
function yardstickCell(figure: CompareFigure): string {
  if (!figure.samples['raw-pg']) return '-';
  const against = (side: Side) => {
    const ratios = pairedRatios(figure, side, 'raw-pg');
    return ratios.length > 0 ? times(median(ratios)) : 'n/a';
  };
  return `${against('previous')} / ${against('current')}`;
}

export function comparisonTable(run: CompareRun): string {
  const { previous, current } = run.versions;
  return markdownTable(
    [
      'median (unit)',
      previous.label,
      current.label,
      'this / previous (medians)',
      'this / previous, same round',
      `${rawPgLabel} (yardstick)`,
      'previous / yardstick, this / yardstick (same round)',
    ],
    run.figures.map((figure) => [
      `${figure.title} (${unitOf(figure)})`,
      formatValue(figure, medianOf(figure.samples.previous)),
      formatValue(figure, medianOf(figure.samples.current)),
      ratioCell(figure),
      roundsCell(figure),
      figure.samples['raw-pg'] ? formatValue(figure, medianOf(figure.samples['raw-pg'])) : '-',
      yardstickCell(figure),
    ]),
    ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
  );
}

function spreadTable(run: CompareRun): string {
  const windows = (figure: CompareFigure, values: readonly number[] | undefined) => values?.map((value) => formatValue(figure, value)).join(' / ') ?? '-';
  return markdownTable(
    ['every window / read / run, in the order run', run.versions.previous.label, run.versions.current.label, 'yardstick'],
    run.figures.map((figure) => [
      `${figure.title} (${unitOf(figure)})`,
      windows(figure, figure.samples.previous),
      windows(figure, figure.samples.current),
      windows(figure, figure.samples['raw-pg']),
    ]),
  );
}

const loads = (values: readonly number[]) => values.map((value) => value.toFixed(2)).join(', ');

function machineLines(run: CompareRun): string[] {
  const { machine, surroundings } = run;
  return [
    `- Date: ${run.date.toISOString()}; the run took ${Math.round(run.seconds)} s.`,
    `- ${machine.cores} CPUs (nproc), ${machine.cpu}; RAM ${machine.ramGiB} GiB; ${machine.platform}.`,
    `- Node ${machine.node}; ${machine.postgres.replace(/ on .*/, '')}, on the same machine, default settings.`,
    `- Load average (1, 5, 15 min): ${loads(run.loadBefore)} before the run, ${loads(run.loadAfter)} after; the 1-minute figure reached ${surroundings.maxLoadAverage.toFixed(1)} during it. Other programs had non-idle Postgres sessions in ${surroundings.busySamples} of ${surroundings.samples} one-second samples (at most ${surroundings.maxOtherSessions} at once).`,
    `- Appends and commands: ${settings.rounds} interleaved rounds of ${settings.measureMs} ms windows per side (warm-up ${settings.warmupMs} ms, then ${settings.rewarmMs} ms before each window); appends to ${settings.streams.toLocaleString('en-US')} streams. Reads: ${settings.readRounds} reads per side in a rotating order, each in a fresh process after ${settings.readWarmupEvents.toLocaleString('en-US')} events of warm-up.`,
    `- Commands: bank-account deposits and withdrawals through \`handleCommand\` (bench/command-tasks.ts), the domain's aggregate defined by each version's own \`defineAggregate\`; ${commandConcurrency} callers or 1, each with one command in flight, on accounts opened first. Projections: ${replayRounds} catch-up-then-rebuild run(s) per side in a rotating order with the raw SQL rebuild, each in a fresh process on that version's own log of the same events (bench/replay/); ${latencyRounds} latency run(s) per side, alternating, each on a fresh schema with the worker in a process of its own.`,
  ];
}

export function renderComparison(run: CompareRun): string {
  const notes = run.figures.flatMap((figure) => figure.notes);
  return `Generated by \`${run.command}\` (bench/compare/run-compare.ts): both versions of Annals
in one run, against the same Postgres, each figure's sides in processes of their own on fresh
schemas, windows interleaved round by round in a rotating order; medians. **previous** is
${run.versions.previous.label}, **this** is ${run.versions.current.label}. Raw pg runs the same
hand-written statement on both sides of the change (its code did not change): its spread shows
the machine's noise; the rebuild's yardstick is the raw SQL rebuild. "Same round": the
median, and the middle half, of the ratios of this side's window to the previous side's
window of the same round (run back to back, so less exposed to swings in load than two
medians). Higher is better, except for latencies (ms), where a ratio above 1 is slower.

${comparisonTable(run)}
${notes.length > 0 ? `\n${notes.map((note) => `- ${note}`).join('\n')}\n` : ''}
${machineLines(run).join('\n')}

<details><summary>Every measured window</summary>

${spreadTable(run)}

</details>`;
}
