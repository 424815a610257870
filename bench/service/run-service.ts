/**
 * `npx tsx bench/service/run-service.ts [--no-write]`: the service figures (about three and
 * a half minutes on a loaded 2-core machine), printed and written to their section of
 * docs/benchmarks.md. Settings: the BENCH_SERVICE_* variables (service-settings.ts);
 * BENCH_DATABASE_URL for another Postgres; BENCH_CHILD_ARGV for Node flags of the server
 * processes (`--cpu-prof --cpu-prof-dir=/tmp/prof` to see where their time goes). Where a
 * read's time goes, piece by piece: bench/service/read-cost.ts.
 */
import { parseArgs } from 'node:util';
import { runServiceBench } from './service-figures.js';
import { renderServiceSummary, serviceSectionTitle, writeServiceSection } from './service-report.js';

const { values: options } = parseArgs({ options: { 'no-write': { type: 'boolean', default: false } } });

const run = await runServiceBench();
console.log(`\n${renderServiceSummary(run)}`);
if (!options['no-write']) {
  await writeServiceSection(run);
  console.log(`\nWrote section "${serviceSectionTitle}" of docs/benchmarks.md (${Math.round(run.seconds)} s).`);
}
