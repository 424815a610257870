/** Turns the command and load-time figures into the "Commands" section of docs/benchmarks.md. */
import { bankContestantLabels, type BankContestantName } from './contestants/bank.js';
import { commandsMethodology, limits } from './commands-text.js';
import { formatMs, formatRate, formatTimes as times, markdownTable, settings } from './harness.js';
import type { CommandFigureResult, CommandResults, LoadTimeFigure } from './results.js';

/** The ratio the target is about, and the bar it must clear. */
const target = 1.5;

function ratio(numerator: number | undefined, denominator: number | undefined): number | undefined {
  return numerator === undefined || denominator === undefined || denominator === 0 ? undefined : numerator / denominator;
}

/** Annals' window of each round over another contestant's window of the same round (run back to back). */
function pairedRatiosWith(figure: CommandFigureResult, other: BankContestantName, mine: BankContestantName = 'annals'): number[] {
  const annals = figure.samples[mine] ?? [];
  const theirs = figure.samples[other] ?? [];
  return annals.flatMap((value, round) => (theirs[round] ? [value / theirs[round]] : []));
}

/** The two Annals configurations the target is checked for: the default, and with its state cache on. */
type Measured = 'annals' | 'annals-cached';

function range(values: readonly number[]): string {
  return values.length === 0 ? 'n/a' : `${times(Math.min(...values))} to ${times(Math.max(...values))}`;
}

function failedCount(figure: CommandFigureResult, name: BankContestantName): number {
  return Object.values(figure.failed[name] ?? {}).reduce((sum, count) => sum + count, 0);
}

/** "0 of 5,210" or "1,830 of 2,410 (76%; version conflict 1,830)". */
function failedCell(figure: CommandFigureResult, name: BankContestantName): string {
  if (figure.samples[name] === undefined) return 'n/a';
  const failed = failedCount(figure, name);
  const attempted = failed + (figure.succeeded[name] ?? 0);
  if (failed === 0) return `0 of ${formatRate(attempted)}`;
  const kinds = Object.entries(figure.failed[name] ?? {}).map(([kind, count]) => `${kind} ${formatRate(count)}`);
  const share = (100 * failed) / attempted;
  return `${formatRate(failed)} of ${formatRate(attempted)} (${share < 10 ? share.toFixed(1) : Math.round(share)}%; ${kinds.join(', ')})`;
}

const columns: BankContestantName[] = ['annals', 'annals-cached', 'annals-no-snapshots', 'emmett', 'emmett-retry'];
const informative = (name: BankContestantName) => (name === 'annals' || name === 'annals-cached' || name === 'emmett' ? '' : ' (informative)');

function commandsTable(figures: readonly CommandFigureResult[]): string {
  const rows = figures.flatMap((figure) => [
    [
      `${figure.title}: commands/s (median)`,
      ...columns.map((name) => (figure.contestants.includes(name) ? formatRate(figure.commandsPerSecond[name]) : '')),
      formatRatioOf(figure, 'annals'),
      formatRatioOf(figure, 'annals-cached'),
    ],
    [
      `${figure.title}: failed after retries / handled`,
      ...columns.map((name) => (figure.contestants.includes(name) ? failedCell(figure, name) : '')),
      '',
      '',
    ],
  ]);
  return markdownTable(
    ['', ...columns.map((name) => `${bankContestantLabels[name]}${informative(name)}`), 'Annals / Emmett', 'Annals, state cache / Emmett'],
    rows,
    ['left', ...columns.map(() => 'right' as const), 'right', 'right'],
  );
}

function formatRatioOf(figure: CommandFigureResult, mine: Measured): string {
  const value = ratio(figure.commandsPerSecond[mine], figure.commandsPerSecond.emmett);
  return value === undefined ? 'n/a' : times(value);
}

/** The target line for one configuration: met only if it clears 1.5x Emmett in every command figure. */
export function commandTarget(
  figures: readonly CommandFigureResult[],
  mine: Measured = 'annals',
): { measured: string; rounds: string; verdict: string } {
  const checks = figures.map((figure) => ({
    title: figure.title,
    value: ratio(figure.commandsPerSecond[mine], figure.commandsPerSecond.emmett),
    rounds: pairedRatiosWith(figure, 'emmett', mine),
  }));
  const measured = checks.map(({ title, value }) => `${value === undefined ? 'n/a' : times(value)} on ${title}`).join('; ');
  const rounds = checks.map(({ title, rounds }) => `${range(rounds)} on ${title}`).join('; ');
  if (checks.length === 0 || checks.some(({ value }) => value === undefined)) return { measured, rounds, verdict: 'not measured' };
  const met = checks.every(({ value }) => value! >= target);
  // Borderline when a figure's own rounds straddle the bar: a figure clearly below it
  // makes "not met" certain whatever the other figure's rounds say.
  const straddles = checks.map(({ value, rounds }) => rounds.some((round) => round >= target !== value! >= target));
  const borderline = met ? straddles.some(Boolean) : checks.every(({ value }, index) => value! >= target || straddles[index]);
  const word = met ? '**met**' : '**not met**';
  return { measured, rounds, verdict: borderline ? `${word} (borderline: some rounds say otherwise)` : word };
}

function spreadTable(figures: readonly CommandFigureResult[]): string {
  const rows = figures.map((figure) => [
    figure.title,
    ...columns.map((name) => (figure.samples[name] ?? []).map(formatRate).join(' / ') || 'n/a'),
  ]);
  return markdownTable(['every measured window, commands/s', ...columns.map((name) => bankContestantLabels[name])], rows);
}

function loadTimeTable(figure: LoadTimeFigure): string {
  const cell = (name: BankContestantName, index: number) => {
    const capped = figure.capped[name]?.includes(figure.lengths[index]!) ? ' *' : '';
    return `${formatMs(figure.ms[name]?.[index])}${capped}`;
  };
  const rows = figure.contestants.map((name) => [
    `${bankContestantLabels[name]}${name === 'annals' ? ' (snapshots every 50)' : ''}`,
    ...figure.lengths.map((_, index) => cell(name, index)),
  ]);
  const speedUp = (name: BankContestantName) =>
    figure.lengths.map((_, index) => {
      const value = ratio(figure.ms.emmett?.[index], figure.ms[name]?.[index]);
      return value === undefined ? 'n/a' : times(value);
    });
  rows.push(['Emmett time / Annals time', ...speedUp('annals')]);
  rows.push(['Emmett time / Annals-no-snapshots time', ...speedUp('annals-no-snapshots')]);
  return markdownTable(
    ['load time, ms (median)', ...figure.lengths.map((length) => `${length.toLocaleString('en-US')} events`)],
    rows,
    ['left', ...figure.lengths.map(() => 'right' as const)],
  );
}

function loadTimeSpread(figure: LoadTimeFigure): string {
  const rows = figure.contestants.map((name) => [
    bankContestantLabels[name],
    ...figure.lengths.map((_, index) => (figure.samples[name]?.[index] ?? []).map(formatMs).join(' / ') || 'n/a'),
  ]);
  return markdownTable(['every measured step, ms', ...figure.lengths.map((length) => length.toLocaleString('en-US'))], rows);
}

function notes(results: CommandResults): string[] {
  const lines = results.figures.flatMap((figure) => figure.notes);
  const hot = results.figures.find((figure) => figure.id === 'commands-hot');
  if (hot) {
    const lengths = columns.flatMap((name) =>
      hot.streamLength[name] === undefined ? [] : [`${bankContestantLabels[name]} ${formatRate(hot.streamLength[name])}`],
    );
    if (lengths.length > 0) lines.push(`Longest hot stream at the end of a window (warm-up included): ${lengths.join(', ')} events.`);
    const retrying = ratio(hot.commandsPerSecond.annals, hot.commandsPerSecond['emmett-retry']);
    if (retrying !== undefined) {
      lines.push(
        `On the hot aggregate Emmett's default gives up at the first conflict; against Emmett with its retry option on, ` +
          `Annals handled ${times(retrying)} the commands per second (round by round ${range(pairedRatiosWith(hot, 'emmett-retry'))}).`,
      );
    }
  }
  const load = results.loadTime;
  for (const [name, lengths] of Object.entries(load?.capped ?? {}) as [BankContestantName, number[]][]) {
    lines.push(
      `\\* ${bankContestantLabels[name]}'s first load of ${lengths.map((length) => length.toLocaleString('en-US')).join(', ')} events ` +
        `took over ${settings.loadMaxMs / 1000} s, so it was measured once more only.`,
    );
  }
  lines.push(...(load?.notes ?? []));
  return lines.map((line) => `- ${line}`);
}

export function renderCommandsSection(results: CommandResults): string {
  const check = commandTarget(results.figures);
  const cached = commandTarget(results.figures, 'annals-cached');
  const load = results.loadTime;
  const extra = notes(results);
  return `## Commands

Bank-account commands (domain/bank-account: deposits and withdrawals with a balance check)
through each library's command handler: load the account, decide, append expecting the
version loaded. How they are measured is described below the tables.

${results.figures.length > 0 ? commandsTable(results.figures) : 'Not measured in this run.'}

**Target: commands/s >= ${target}x Emmett's** (on both figures).
- Annals as configured by default: ${check.measured}; round by round ${check.rounds}: ${check.verdict}.
- Annals with its state cache on (\`cache: { maxStreams }\` on the aggregate, docs/aggregates.md; one process, every account in the cache, its best case; Emmett has no cache): ${cached.measured}; round by round ${cached.rounds}: ${cached.verdict}.
${load ? `\n${loadTimeTable(load)}\n` : ''}${extra.length > 0 ? `\n${extra.join('\n')}\n` : ''}
The measured windows and load steps behind each median, in the order they ran:

${spreadTable(results.figures)}
${load ? `\n${loadTimeSpread(load)}\n` : ''}
${limits(results)}
${commandsMethodology()}`;
}

/** The console summary of the command figures. */
export function renderCommandsSummary(results: CommandResults): string {
  const line = (mine: Measured, label: string) => {
    const check = commandTarget(results.figures, mine);
    return `- ${label}: commands/s >= ${target}x Emmett's: ${check.measured}; rounds ${check.rounds} -> ${check.verdict.replaceAll('*', '')}`;
  };
  return `${commandsTable(results.figures)}\n\n${line('annals', 'Annals')}\n${line('annals-cached', 'Annals, state cache')}`;
}

/** The console summary of the load-time figure. */
export function renderLoadTimeSummary(figure: LoadTimeFigure): string {
  const extra = notes({ figures: [], loadTime: figure });
  return `${loadTimeTable(figure)}${extra.length > 0 ? `\n\n${extra.join('\n')}` : ''}`;
}
