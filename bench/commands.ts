/**
 * Figures: commands handled per second. Bank-account deposits and withdrawals
 * (domain/bank-account) go through each library's command handler, which loads the
 * account, decides, and appends expecting the version it loaded; 16 callers, each with
 * one command in flight. On one hot aggregate every caller works on the same account,
 * so conflicts and retries happen; on 1,000 aggregates each caller owns its share, so
 * they do not. Run alone: `npx tsx bench/commands.ts`.
 */
import { renderCommandsSummary } from './commands-report.js';
import { bankContestantLabels, bankTargetKind, type BankContestantName } from './contestants/bank.js';
import { interleavedWindows } from './figures.js';
import { commandConcurrency, freshName, settings, type Target } from './harness.js';
import { isMain } from './is-main.js';
import { median } from './median.js';
import type { CommandFigureId, CommandFigureResult } from './results.js';
import type { CommandTask } from './command-tasks.js';

export async function runCommands(): Promise<CommandFigureResult[]> {
  return [
    await commandFigure({
      id: 'commands-hot',
      title: `one hot aggregate, ${commandConcurrency} callers`,
      accounts: 1,
      contestants: ['annals', 'annals-cached', 'annals-no-snapshots', 'emmett', 'emmett-retry'],
    }),
    await commandFigure({
      id: 'commands-many',
      title: `${settings.commandAccounts.toLocaleString('en-US')} aggregates, ${commandConcurrency} callers`,
      accounts: settings.commandAccounts,
      // No conflicts here, so Emmett's retry option would change nothing.
      contestants: ['annals', 'annals-cached', 'annals-no-snapshots', 'emmett'],
    }),
  ];
}

function freshBankTarget(contestant: BankContestantName): Target {
  const name = freshName(contestant);
  return bankTargetKind(contestant) === 'database' ? { database: name } : { schema: name };
}

/**
 * One command figure, run like the append figures (figures.ts, interleavedWindows): each
 * contestant in a process of its own on a fresh schema or database, measured windows
 * interleaved round by round in a rotating order, the figure the median window.
 */
async function commandFigure(options: {
  id: CommandFigureId;
  title: string;
  accounts: number;
  contestants: BankContestantName[];
}): Promise<CommandFigureResult> {
  const result: CommandFigureResult = {
    id: options.id,
    title: options.title,
    contestants: options.contestants,
    commandsPerSecond: {},
    samples: {},
    succeeded: {},
    failed: {},
    streamLength: {},
    notes: [],
  };
  const failedCount = (contestant: BankContestantName) => Object.values(result.failed[contestant] ?? {}).reduce((sum, count) => sum + count, 0);
  const { samples, notes } = await interleavedWindows({
    title: options.title,
    unit: 'commands/s',
    entrants: options.contestants.map((contestant) => ({
      key: contestant,
      label: bankContestantLabels[contestant],
      task: {
        kind: 'commands',
        contestant,
        target: freshBankTarget(contestant),
        concurrency: commandConcurrency,
        accounts: options.accounts,
      } satisfies CommandTask,
    })),
    rate: (contestant, measured) => {
      result.succeeded[contestant] = (result.succeeded[contestant] ?? 0) + measured.succeeded;
      const failed = (result.failed[contestant] ??= {});
      for (const [kind, count] of Object.entries(measured.failed)) failed[kind] = (failed[kind] ?? 0) + count;
      if (measured.streamLength !== undefined) {
        result.streamLength[contestant] = Math.max(result.streamLength[contestant] ?? 0, measured.streamLength);
      }
      return measured.commandsPerSecond;
    },
    summary: (contestant) => `failed: ${failedCount(contestant)}`,
  });
  result.samples = samples;
  result.notes.push(...notes);
  for (const [contestant, windows] of Object.entries(samples) as [BankContestantName, number[]][]) result.commandsPerSecond[contestant] = median(windows);
  return result;
}

if (isMain(import.meta.url)) console.log(`\n${renderCommandsSummary({ figures: await runCommands() })}`);
