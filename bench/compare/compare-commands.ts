/**
 * The command figures of a comparison (bench/compare/run-compare.ts), from the suite's
 * own code (bench/command-tasks.ts): bank-account commands through `handleCommand`, the
 * domain's aggregate defined by each side's own `defineAggregate`, each side in a process
 * of its own on a fresh schema, windows interleaved round by round as for appends. No raw
 * yardstick: the suite has none for commands.
 */
import type { BankContestantName } from '../contestants/bank.js';
import type { CommandTask } from '../command-tasks.js';
import { freshTarget, interleavedWindows } from '../figures.js';
import { commandConcurrency, formatRate, settings } from '../harness.js';
import { label, type CompareFigure, type Versions } from './compare-figures.js';

interface CommandFigure {
  title: string;
  contestant: BankContestantName;
  /** Callers, each with one command in flight. */
  concurrency: number;
  /** 1: one hot account that every caller works on (conflicts, retries). */
  accounts: number;
}

const accounts = settings.commandAccounts;
const aggregates = `${accounts.toLocaleString('en-US')} aggregates`;

const commandFigures: readonly CommandFigure[] = [
  { title: `handleCommand, 1 caller, ${aggregates}`, contestant: 'annals', concurrency: 1, accounts },
  { title: `handleCommand, ${commandConcurrency} callers, ${aggregates}`, contestant: 'annals', concurrency: commandConcurrency, accounts },
  { title: `handleCommand, ${commandConcurrency} callers, one hot aggregate (conflicts, retries)`, contestant: 'annals', concurrency: commandConcurrency, accounts: 1 },
  { title: `handleCommand with the state cache, ${commandConcurrency} callers, ${aggregates}`, contestant: 'annals-cached', concurrency: commandConcurrency, accounts },
];

export async function runCommandCompare(versions: Versions): Promise<CompareFigure[]> {
  const figures: CompareFigure[] = [];
  for (const { title, ...load } of commandFigures) {
    const failed: Record<string, number> = {};
    const attempted: Record<string, number> = {};
    const { samples, notes } = await interleavedWindows({
      title,
      unit: 'commands/s',
      entrants: (['previous', 'current'] as const).map((side) => ({
        key: side,
        label: label(side, versions),
        task: { kind: 'commands', target: freshTarget('annals'), annalsRoot: versions[side].annalsRoot, ...load } satisfies CommandTask,
      })),
      rate: (side, measured) => {
        const failures = Object.values(measured.failed).reduce((sum, count) => sum + count, 0);
        failed[side] = (failed[side] ?? 0) + failures;
        attempted[side] = (attempted[side] ?? 0) + failures + measured.succeeded;
        return measured.commandsPerSecond;
      },
      summary: (side) => `failed: ${failed[side] ?? 0}`,
    });
    for (const side of Object.keys(samples)) {
      if (failed[side]) notes.push(`${title}: ${label(side as 'previous' | 'current', versions)} failed ${formatRate(failed[side])} of ${formatRate(attempted[side])} commands after retries (only successes count).`);
    }
    figures.push({ title, unit: 'commands/s', samples, notes });
  }
  return figures;
}
