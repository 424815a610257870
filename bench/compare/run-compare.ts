/**
 * `npm run bench:compare -- [baseline] [--current <ref>] [--title <section>] [--only <parts>] [--no-write]`:
 * what a change costs. Runs the append, read, command and projection figures for Annals
 * at a baseline commit and for the working tree (or `--current <ref>`) side by side in
 * one run, with raw yardsticks where the suite has them, then writes a section of
 * docs/benchmarks.md (kept by `npm run bench`). `--only` takes a comma-separated subset
 * of appends, reads, commands, projections, service.
 *
 * The baseline is the first argument, else BENCH_BASELINE_REF, else the merge-base with
 * the upstream branch, else HEAD~1. Settings are the suite's BENCH_* variables (and
 * REPLAY_*, LATENCY_*), with other defaults (below and in compare-projections.ts).
 * About 20 minutes on a loaded 2-core machine.
 */
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { machineDetails, now, settings, watchSurroundings, type Surroundings } from '../harness.js';
import { runCommandCompare } from './compare-commands.js';
import { runAppendFigures, runReadFigure, type CompareFigure, type Versions } from './compare-figures.js';
import { runProjectionCompare } from './compare-projections.js';
import { runServiceCompare } from '../service/service-compare.js';
import { renderComparison, type CompareRun } from './compare-report.js';
import { withSection } from './doc-section.js';
import { defaultBaselineRef, extractSourceTree, resolveCommit, uncommittedCodeFiles, type SourceTree } from './source-tree.js';

const reportFile = new URL('../../docs/benchmarks.md', import.meta.url);

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    current: { type: 'string' },
    title: { type: 'string' },
    only: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
  },
});

// More, shorter reads than the suite's: a ratio between two close versions needs tight
// medians, and a loaded 2-core machine reads a 200,000-event log in tens of seconds.
if (!process.env.BENCH_ROUNDS) settings.rounds = 15;
if (!process.env.BENCH_READ_ROUNDS) settings.readRounds = 7;
if (!process.env.BENCH_READ_EVENTS) settings.readEvents = 50_000;

const compareParts = ['appends', 'reads', 'commands', 'projections', 'service'] as const;
const only = options.only?.split(',').map((part) => part.trim()) ?? [...compareParts];
const unknownParts = only.filter((part) => !(compareParts as readonly string[]).includes(part));
if (unknownParts.length > 0) throw new Error(`--only: unknown part(s) ${unknownParts.join(', ')}; known: ${compareParts.join(', ')}`);
const runs = (part: (typeof compareParts)[number]) => only.includes(part);

const baseline = resolveCommit(positionals[0] ?? process.env.BENCH_BASELINE_REF ?? defaultBaselineRef());
const currentRef = options.current ?? process.env.BENCH_CURRENT_REF;
const current = currentRef === undefined ? undefined : resolveCommit(currentRef);
const head = resolveCommit('HEAD');
const title = options.title ?? `Compared with ${baseline.short}`;

const trees: SourceTree[] = [];
const removeTrees = () => Promise.allSettled(trees.splice(0).map((tree) => tree.remove()));
// Ctrl-C skips `finally`: remove the extracted trees before leaving.
process.once('SIGINT', () => void removeTrees().then(() => process.exit(130)));

/** Where each side's Annals comes from, extracting the commits from git. */
async function prepareVersions(): Promise<{ versions: Versions; changed: string[] }> {
  const previousTree = await extractSourceTree(baseline);
  trees.push(previousTree);
  const previous = { label: `previous commit (${baseline.short})`, annalsRoot: previousTree.root };
  if (current) {
    const currentTree = await extractSourceTree(current);
    trees.push(currentTree);
    return { versions: { previous, current: { label: `this commit (${current.short})`, annalsRoot: currentTree.root } }, changed: [] };
  }
  const changed = uncommittedCodeFiles();
  const label = changed.length === 0 ? `this commit (${head.short})` : `this commit (${head.short} + uncommitted changes)`;
  return { versions: { previous, current: { label } }, changed };
}

function reproduceCommand(): string {
  const parts = ['npm run bench:compare --', baseline.short];
  if (current) parts.push('--current', current.short);
  if (options.title) parts.push('--title', JSON.stringify(options.title));
  if (options.only) parts.push('--only', options.only);
  return parts.join(' ');
}

const started = now();
const date = new Date();
const loadBefore = os.loadavg();
const machine = await machineDetails();
const watcher = watchSurroundings();
const figures: CompareFigure[] = [];
let prepared: { versions: Versions; changed: string[] };
let surroundings: Surroundings;
try {
  prepared = await prepareVersions();
  console.log(`Comparing ${prepared.versions.previous.label} "${baseline.subject}" with ${prepared.versions.current.label}`);
  if (runs('appends')) figures.push(...(await runAppendFigures(prepared.versions)));
  if (runs('reads')) figures.push(await runReadFigure(prepared.versions));
  if (runs('commands')) figures.push(...(await runCommandCompare(prepared.versions)));
  if (runs('projections')) figures.push(...(await runProjectionCompare(prepared.versions)));
  if (runs('service')) figures.push(...(await runServiceCompare(prepared.versions)));
} finally {
  surroundings = await watcher.stop();
  await removeTrees();
}
const run: CompareRun = {
  date,
  seconds: (now() - started) / 1000,
  command: reproduceCommand(),
  versions: prepared.versions,
  machine,
  loadBefore,
  loadAfter: os.loadavg(),
  surroundings,
  figures,
};

let generated = renderComparison(run);
if (prepared.changed.length > 0) {
  generated += `\n\nThe working tree differed from ${head.short} in: ${prepared.changed.map((file) => `\`${file}\``).join(', ')}.`;
}
console.log(`\n${generated}`);
if (!options['no-write']) {
  const page = await readFile(reportFile, 'utf8');
  await writeFile(reportFile, withSection(page, title, generated));
  console.log(`\nWrote section "${title}" of docs/benchmarks.md (${Math.round(run.seconds)} s).`);
}
