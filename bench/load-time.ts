/**
 * Figure: the time to load one aggregate (what a command handler does before deciding)
 * against its stream's length, 10 to 100,000 events: Annals with the bank account's
 * snapshots (every 50 events), Annals without, and Emmett (which has none). Run alone:
 * `npx tsx bench/load-time.ts`.
 */
import { renderLoadTimeSummary } from './commands-report.js';
import type { LoadTimeResult, LoadTimeTask } from './command-tasks.js';
import { bankContestantLabels, type BankContestantName } from './contestants/bank.js';
import { adminQuery, databaseUrl, freshName, quoteIdent, settings, urlForDatabase, withTarget, type Target } from './harness.js';
import { IsolatedProcess, runIsolated } from './isolated-process.js';
import { isMain } from './is-main.js';
import { median } from './median.js';
import type { LoadTimeFigure } from './results.js';

const contestants: BankContestantName[] = ['annals', 'annals-no-snapshots', 'emmett'];

export async function runLoadTime(): Promise<LoadTimeFigure> {
  const lengths = settings.loadLengths;
  const figure: LoadTimeFigure = { lengths, contestants, ms: {}, samples: {}, capped: {}, notes: [] };
  // Both Annals variants load the same streams, written once by Annals (its snapshots
  // are simply not read by the variant without them); Emmett loads its own.
  await withTarget({ schema: freshName('annals_load') }, (annalsTarget) =>
    withTarget({ database: freshName('emmett_load') }, async (emmettTarget) => {
      const targetOf = (contestant: BankContestantName) => (contestant === 'emmett' ? emmettTarget : annalsTarget);
      for (const writer of ['annals', 'emmett'] as const) {
        const { seconds } = await runIsolated({ kind: 'fill', contestant: writer, target: targetOf(writer), lengths });
        const events = lengths.reduce((sum, length) => sum + length, 0);
        console.log(`  load time: wrote ${events.toLocaleString('en-US')} events with ${bankContestantLabels[writer]} in ${seconds.toFixed(1)} s`);
        await analyze(targetOf(writer));
      }
      const loaders = new Map<BankContestantName, IsolatedProcess<LoadTimeTask>>();
      try {
        for (const contestant of contestants) {
          loaders.set(contestant, await IsolatedProcess.start({ kind: 'load-time', contestant, target: targetOf(contestant) }));
        }
        for (const [index, length] of lengths.entries()) await measureLength(figure, loaders, index, length);
      } finally {
        await Promise.allSettled([...loaders.values()].map((loader) => loader.close()));
      }
    }),
  );
  return figure;
}

/**
 * One unmeasured load per contestant (JIT, plan and buffer caches), then the measured
 * rounds in a rotating order. A contestant whose first load was slower than
 * settings.loadMaxMs is measured once, so it cannot stretch the run; one that fails is
 * noted and left out of the lengths that follow.
 */
async function measureLength(
  figure: LoadTimeFigure,
  loaders: Map<BankContestantName, IsolatedProcess<LoadTimeTask>>,
  index: number,
  length: number,
): Promise<void> {
  const args = { length, minMs: settings.loadStepMs };
  const capped = new Set<BankContestantName>();
  const step = async (contestant: BankContestantName): Promise<LoadTimeResult | undefined> => {
    try {
      const loaded = await loaders.get(contestant)!.step(args, 600_000);
      check(figure, contestant, length, loaded);
      return loaded;
    } catch (error) {
      figure.notes.push(`${bankContestantLabels[contestant]} failed at ${length} events: ${(error as Error).message.split('\n')[0]}`);
      console.error(`  load time: ${bankContestantLabels[contestant]} failed`, error);
      const loader = loaders.get(contestant);
      loaders.delete(contestant);
      await loader?.close().catch(() => {});
      return undefined;
    }
  };
  for (const contestant of [...loaders.keys()]) {
    const warm = await step(contestant);
    if (warm && warm.ms > settings.loadMaxMs) {
      capped.add(contestant);
      (figure.capped[contestant] ??= []).push(length);
    }
  }
  const order = [...loaders.keys()];
  for (let round = 0; round < settings.loadRounds; round++) {
    for (let turn = 0; turn < order.length; turn++) {
      const contestant = order[(turn + round) % order.length]!;
      if (!loaders.has(contestant) || (round > 0 && capped.has(contestant))) continue;
      const measured = await step(contestant);
      if (measured) ((figure.samples[contestant] ??= [])[index] ??= []).push(measured.ms);
    }
  }
  for (const contestant of order) {
    const times = figure.samples[contestant]?.[index] ?? [];
    (figure.ms[contestant] ??= [])[index] = times.length > 0 ? median(times) : undefined;
    console.log(`  load time, ${length} events: ${bankContestantLabels[contestant]} ${times.map((ms) => ms.toFixed(2)).join(' / ')} ms`);
  }
}

/** Every contestant must have loaded the same account: version = length, balance = length - 1. */
function check(figure: LoadTimeFigure, contestant: BankContestantName, length: number, loaded: LoadTimeResult): void {
  if (loaded.version === length && loaded.balance === length - 1) return;
  const note = `${bankContestantLabels[contestant]} loaded version ${loaded.version}, balance ${loaded.balance} for a ${length}-event stream`;
  if (!figure.notes.includes(note)) figure.notes.push(note);
}

/** Fresh statistics for the planner, as the read figure does after loading. */
async function analyze(target: Target): Promise<void> {
  if ('schema' in target) {
    const schema = quoteIdent(target.schema);
    await adminQuery([`VACUUM ANALYZE ${schema}.events`, `VACUUM ANALYZE ${schema}.streams`, `VACUUM ANALYZE ${schema}.snapshots`], databaseUrl);
  } else {
    await adminQuery(['VACUUM ANALYZE emt_messages', 'VACUUM ANALYZE emt_streams'], urlForDatabase(target.database));
  }
}

if (isMain(import.meta.url)) console.log(`\n${renderLoadTimeSummary(await runLoadTime())}`);
