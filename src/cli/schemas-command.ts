import { ValidationError } from '../errors.js';
import { checkSchemas, type SchemaCheckReport } from '../schemas/check-schemas.js';
import { configOf, jsonOption, print, text, type CommandSpec } from './command-spec.js';
import { formatCount, formatTable, toJson, truncate } from './output.js';
import { announceDatabase, schemaFor, withStore } from './store.js';
import { ExitCodes, integerOption, UsageError } from './usage-error.js';

/**
 * `annals schemas check`: checkSchemas over the config's aggregates, projections, consumers
 * and outboxes (docs/schemas.md). Exits 1 when a stored event does not decode, so a CI
 * job run before a deploy stops it.
 */
export const schemasCommands: readonly CommandSpec[] = [
  {
    path: ['schemas', 'check'],
    arguments: '',
    minArgs: 0,
    maxArgs: 0,
    summary: "check that every stored event the config's aggregates and projections read still decodes (exit 1 if not)",
    options: {
      sample: { type: 'string', value: 'N', description: 'events read per type and stored schema version, spread over its history (default 1000)' },
      full: { type: 'boolean', description: 'read every stored event instead of a sample' },
      examples: { type: 'string', value: 'N', description: 'failing events shown per type and version (default 3)' },
      json: jsonOption,
    },
    async run(input) {
      const config = await configOf(input);
      const sample = integerOption('--sample', text(input, 'sample'));
      const examples = integerOption('--examples', text(input, 'examples'));
      const full = input.values.full === true;
      if (full && sample !== undefined) throw new UsageError('give --sample or --full, not both');
      const json = input.values.json === true;
      const code = { aggregates: config.aggregates ?? [], projections: config.projections, consumers: config.consumers ?? [], outboxes: config.outboxes ?? [] };
      if (code.aggregates.length === 0 && code.projections.length === 0) {
        throw new UsageError('the config lists no aggregates and no projections: nothing reads events to check (add aggregates: [...] to its default export)');
      }
      return withStore(schemaFor({ config: config.schema }), async (store, { database }) => {
        let report: SchemaCheckReport;
        try {
          report = await checkSchemas(store, code, { full, ...(sample === undefined ? {} : { sample }), ...(examples === undefined ? {} : { examples }) });
        } catch (error) {
          if (error instanceof ValidationError) throw new UsageError(error.issues.map((issue) => `--${issue.field.replace(/^options\./, '')} ${issue.reason}`).join('; '));
          throw error;
        }
        print(announceDatabase({ json, database })(json ? toJson(report) : formatSchemaCheck(report)));
        return report.ok ? ExitCodes.ok : ExitCodes.failed;
      });
    },
  },
];

const columns = [
  { title: 'reader' },
  { title: 'type' },
  { title: 'stored v', align: 'right' },
  { title: 'code v', align: 'right' },
  { title: 'stored', align: 'right' },
  { title: 'checked', align: 'right' },
  { title: 'failed', align: 'right' },
] as const;

/** The report as a terminal table, then each failure's examples, then the types no code reads. */
export function formatSchemaCheck(report: SchemaCheckReport): string {
  const rows = report.results.map((r) => [
    `${r.reader.kind} ${r.reader.name}`,
    r.type,
    String(r.schemaVersion),
    String(r.currentVersion),
    formatCount(r.stored),
    formatCount(r.checked),
    formatCount(r.failed),
  ]);
  const lines = [rows.length > 0 ? formatTable(columns, rows) : 'no stored events of the types the code reads'];
  for (const r of report.results.filter((result) => result.failed > 0)) {
    lines.push('', `${r.reader.kind} ${r.reader.name}: ${formatCount(r.failed)} of ${formatCount(r.checked)} checked ${r.type} v${r.schemaVersion} events do not decode, e.g.`);
    for (const example of r.examples) {
      const issues = example.issues.map((issue) => `${issue.field}: ${issue.reason}`).join('; ');
      lines.push(`  position ${example.globalPosition} in ${example.streamId}: ${truncate(example.reason + (issues ? ` (${issues})` : ''), 200)}`);
    }
  }
  if (report.unhandled.length > 0) {
    lines.push('', 'stored, but read by no aggregate, projection, consumer or outbox of this code:');
    for (const kind of report.unhandled) lines.push(`  ${kind.type} v${kind.schemaVersion} in ${kind.category}: ${formatCount(kind.count)}`);
  }
  const checked = report.full ? 'every stored event checked' : 'a sample of each stored version checked; --full reads them all';
  lines.push('', report.ok ? `ok: the stored events decode with this code (${checked})` : `FAILED: this code cannot read some stored events (${checked})`);
  return lines.join('\n');
}
