/**
 * `npm run bench`: every figure, each contestant side by side on the same Postgres, then
 * the tables on stdout and docs/benchmarks.md. Takes about fifteen minutes.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { runBatchedAppends } from './append-batch.js';
import { runSingleAppends } from './append-single.js';
import { runCommands } from './commands.js';
import { keptSections } from './compare/doc-section.js';
import { renderCommandsSummary, renderLoadTimeSummary } from './commands-report.js';
import { machineDetails, now, watchSurroundings, type Surroundings } from './harness.js';
import { runLoadTime } from './load-time.js';
import { runReadAll } from './read-all.js';
import { renderProjectionsSummary, runProjectionFigures, type ProjectionFigures } from './projections/figures.js';
import { renderReport, renderSummary } from './report.js';
import { runServiceBench, type ServiceRun } from './service/service-figures.js';
import { renderServiceSummary, writeServiceSection } from './service/service-report.js';
import { runOutboxBench, type OutboxRun } from './outbox/outbox-figures.js';
import { renderOutboxSummary, writeOutboxSection } from './outbox/outbox-report.js';
import type { CommandFigureResult, FigureResult, LoadTimeFigure } from './results.js';
import { commitMeasured } from './harness.js';

const reportFile = new URL('../docs/benchmarks.md', import.meta.url);


const started = now();
const date = new Date();
const commit = commitMeasured();
const machine = await machineDetails();
console.log(`Annals benchmarks: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}`);
const watcher = watchSurroundings();
let surroundings: Surroundings;
const figures: FigureResult[] = [];
const commandFigures: CommandFigureResult[] = [];
let loadTime: LoadTimeFigure | undefined;
let projections: ProjectionFigures | undefined;
let service: ServiceRun | undefined;
let outbox: OutboxRun | undefined;
try {
  figures.push(...(await runSingleAppends()), ...(await runBatchedAppends()), ...(await runReadAll()));
  commandFigures.push(...(await runCommands()));
  loadTime = await runLoadTime();
  projections = await runProjectionFigures();
  service = await runServiceBench();
  outbox = await runOutboxBench();
} finally {
  surroundings = await watcher.stop();
}
const seconds = (now() - started) / 1000;
const commands = { figures: commandFigures, loadTime };

// Comparisons between commits (npm run bench:compare) come from another script: keep them.
const kept = keptSections(await readFile(reportFile, 'utf8').catch(() => ''));
const report = renderReport({ date, seconds, commit, machine, surroundings, figures, commands, projections });
await writeFile(reportFile, kept ? `${report}\n${kept}` : report);
if (service) await writeServiceSection(service);
if (outbox) await writeOutboxSection(outbox);
console.log(
  `\n${renderSummary(figures)}\n\n${renderCommandsSummary(commands)}\n\n${renderLoadTimeSummary(loadTime)}` +
    `\n\n${projections ? renderProjectionsSummary(projections) : ''}` +
    `\n\n${service ? renderServiceSummary(service) : ''}` +
    `\n\n${outbox ? renderOutboxSummary(outbox) : ''}` +
    `\n\nWrote docs/benchmarks.md (${Math.round(seconds)} s).`,
);
