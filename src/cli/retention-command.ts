import { runRetention, type RetentionReport } from '../retention/run-retention.js';
import type { RetentionStatus } from '../retention/retention-status.js';
import { configOf, jsonOption, print, text, type CommandSpec } from './command-spec.js';
import { formatCount, formatTable, toJson } from './output.js';
import { announceDatabase, schemaFor, withStore } from './store.js';
import { ExitCodes, integerOption, UsageError } from './usage-error.js';

/** `annals retention run`: the config's retention policy enforced once (docs/retention.md). */
export const retentionCommands: readonly CommandSpec[] = [
  {
    path: ['retention', 'run'],
    arguments: '',
    minArgs: 0,
    maxArgs: 0,
    summary: "remove the events the config's retention policy expires, except those a reader of the log still needs",
    options: {
      'dry-run': { type: 'boolean', description: 'count what would be removed, remove nothing' },
      'batch-size': { type: 'string', value: 'N', description: 'events removed per transaction (default 1000)' },
      json: jsonOption,
    },
    async run(input) {
      const config = await configOf(input);
      if (!config.retention) throw new UsageError('the config has no retention policy (add retention: defineRetention({ ... }) to its default export)');
      const batchSize = integerOption('--batch-size', text(input, 'batch-size'));
      if (batchSize === 0) throw new UsageError('--batch-size must be at least 1');
      const json = input.values.json === true;
      const retention = config.retention;
      return withStore(schemaFor({ config: config.schema }), async (store, { database }) => {
        const report = await runRetention(store, retention, { dryRun: input.values['dry-run'] === true, ...(batchSize === undefined ? {} : { batchSize }) });
        print(announceDatabase({ json, database })(json ? toJson(report) : formatRetention(report)));
        return ExitCodes.ok;
      });
    },
  },
];

/** One line per category or stream with its own rule, then who holds expired events back. */
export function formatRetention(report: RetentionReport): string {
  const verb = report.dryRun ? 'would remove' : 'removed';
  const rows = report.results.map((r) => [r.category, r.streamId ?? '(category)', formatCount(r.removed), formatCount(r.waiting)]);
  const lines = [
    rows.length > 0
      ? formatTable([{ title: 'category' }, { title: 'stream' }, { title: verb.replace('would ', ''), align: 'right' }, { title: 'waiting', align: 'right' }], rows)
      : 'the policy names no category or stream',
  ];
  const removed = report.results.reduce((sum, r) => sum + r.removed, 0);
  const waiting = report.results.reduce((sum, r) => sum + r.waiting, 0);
  lines.push('', `${report.dryRun ? 'dry run: would remove' : 'removed'} ${formatCount(removed)} event(s) at or below position ${report.safePosition}`);
  if (waiting > 0) {
    lines.push(`${formatCount(waiting)} expired event(s) wait for readers that still need them:`);
    for (const holder of report.heldBackBy) lines.push(`  ${holder.kind} ${holder.name} at position ${holder.position}`);
  }
  return lines.join('\n');
}

/** `annals status`' retention section: per category, what was removed and what is due now. */
export function formatRetentionStatus(status: RetentionStatus): string {
  const categories = [...new Set([...status.removed.map((r) => r.category), ...status.backlog.map((r) => r.category)])].sort();
  const rows = categories.map((category) => {
    const removed = status.removed.find((r) => r.category === category);
    const due = status.backlog.filter((r) => r.category === category);
    return [
      category,
      formatCount(removed?.removedEvents ?? 0),
      removed ? removed.removedThrough.toString() : '-',
      formatCount(due.reduce((sum, r) => sum + r.removed, 0)),
      formatCount(due.reduce((sum, r) => sum + r.waiting, 0)),
    ];
  });
  const table = formatTable(
    [{ title: 'retention' }, { title: 'removed', align: 'right' }, { title: 'through', align: 'right' }, { title: 'due', align: 'right' }, { title: 'waiting', align: 'right' }],
    rows,
  );
  const holders = status.heldBackBy.map((holder) => `  waiting on ${holder.kind} ${holder.name} at position ${holder.position}`);
  return [table, ...holders].join('\n');
}
