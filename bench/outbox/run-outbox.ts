/**
 * `npx tsx bench/outbox/run-outbox.ts [--no-write]`: the outbox figures (relay throughput
 * to JetStream against a plain client, commit-to-broker latency at a steady rate; about
 * two minutes on a 2-core machine), printed and written to their section of
 * docs/benchmarks.md. Needs the `nats-server` binary (a private server is started on a
 * free port). Settings: the BENCH_OUTBOX_* variables (outbox-settings.ts);
 * BENCH_DATABASE_URL for another Postgres.
 */
import { parseArgs } from 'node:util';
import { runOutboxBench } from './outbox-figures.js';
import { outboxSectionTitle, renderOutboxSummary, writeOutboxSection } from './outbox-report.js';

const { values: options } = parseArgs({ options: { 'no-write': { type: 'boolean', default: false } } });

const run = await runOutboxBench();
console.log(`\n${renderOutboxSummary(run)}`);
if (!options['no-write']) {
  await writeOutboxSection(run);
  console.log(`\nWrote section "${outboxSectionTitle}" of docs/benchmarks.md (${Math.round(run.seconds)} s).`);
}
