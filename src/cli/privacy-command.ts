import { ValidationError } from '../errors.js';
import { forget, subjectSchema, type ForgetResult } from '../privacy/forget.js';
import { masterKeyVariable } from '../privacy/master-key.js';
import { minSearchLength, verifyErasure, type ErasureReport } from '../privacy/verify-erasure.js';
import { parseInput } from '../validation.js';
import type { PrivacyStatus } from '../privacy/privacy-status.js';
import { configOf, jsonOption, print, texts, type CommandInput, type CommandSpec } from './command-spec.js';
import { formatCount, formatTable, toJson } from './output.js';
import { announceDatabase, schemaFor, withStore } from './store.js';
import { ExitCodes, UsageError } from './usage-error.js';

const environment = { [masterKeyVariable]: "the master key wrapping the data subjects' keys: 32 bytes in base64 or hex (docs/privacy.md)" };

/**
 * `annals privacy forget` and `annals privacy verify`: forget and verifyErasure with the
 * config's projections, so that their declared personal columns are checked too
 * (docs/privacy.md). `verify` exits 1 when anything is found, for scripts and CI.
 */
export const privacyCommands: readonly CommandSpec[] = [
  {
    path: ['privacy', 'forget'],
    arguments: 'SUBJECT',
    minArgs: 1,
    maxArgs: 1,
    summary: "erase a data subject: delete their keys, drop their streams' snapshots, record a tombstone; then show where their plaintext is left",
    options: { json: jsonOption },
    environment,
    async run(input) {
      const subject = subjectOf(input);
      const config = await configOf(input);
      const json = input.values.json === true;
      return withStore(schemaFor({ config: config.schema }), async (store, { database }) => {
        const result = await forget(store, subject, { projections: config.projections });
        print(announceDatabase({ json, database })(json ? toJson(result) : formatForget(result)));
        // Done even when read models still hold the plaintext: what is left is printed as what to do.
        return ExitCodes.ok;
      });
    },
  },
  {
    path: ['privacy', 'verify'],
    arguments: 'SUBJECT',
    minArgs: 1,
    maxArgs: 1,
    summary: "check that a data subject's personal data is gone: no key, no snapshot, no plaintext in the log or read models (exit 1 if found)",
    options: {
      value: {
        type: 'string',
        value: 'TEXT',
        multiple: true,
        description: "plaintext to search for, e.g. their email (repeatable; default: the subject's fields, while their key exists)",
      },
      json: jsonOption,
    },
    environment,
    async run(input) {
      const subject = subjectOf(input);
      const values = texts(input, 'value');
      if (values.includes('')) throw new UsageError('--value must not be empty');
      const config = await configOf(input);
      const json = input.values.json === true;
      return withStore(schemaFor({ config: config.schema }), async (store, { database }) => {
        const report = await verifyErasure(store, subject, { projections: config.projections, ...(values.length > 0 ? { values } : {}) });
        print(announceDatabase({ json, database })(json ? toJson(report) : formatErasureReport(report, values)));
        return report.clean ? ExitCodes.ok : ExitCodes.failed;
      });
    },
  },
];

/** The SUBJECT argument, checked before the config loads and the store opens. @throws UsageError naming it */
function subjectOf(input: CommandInput): string {
  try {
    return parseInput(subjectSchema, input.args[0], 'SUBJECT');
  } catch (error) {
    if (error instanceof ValidationError) throw new UsageError(`${error.message}, got ${JSON.stringify(input.args[0])}`);
    throw error;
  }
}

/** What forget did, then what is left to do. */
export function formatForget(result: ForgetResult): string {
  const keys = result.keysDeleted === 0 ? 'no key to delete (never seen, or forgotten before)' : `${formatCount(result.keysDeleted)} key(s) deleted`;
  const lines = [
    `forgot subject ${result.subject}: ${keys}, ${formatCount(result.snapshotsDropped)} snapshot(s) dropped, tombstone at position ${result.position}`,
    `${formatCount(result.report.valuesSearched)} plaintext value(s) of theirs, read before the keys were deleted, searched for`,
  ];
  if (result.report.findings.length > 0) {
    lines.push('', 'left to do: their plaintext is still found here', formatFindings(result.report));
    lines.push('', `not clean yet: rebuild the read models above (annals projections rebuild NAME), then run annals privacy verify ${result.subject} --value TEXT`);
  } else {
    lines.push('', `clean: no plaintext of ${result.subject} found in the places checked`);
  }
  return lines.join('\n');
}

/** The report: forgotten or not, what was searched, each finding, and a final line. */
export function formatErasureReport(report: ErasureReport, given: readonly string[] = []): string {
  const distinct = new Set(given).size;
  const skipped = distinct - report.valuesSearched;
  const lines = [
    `subject ${report.subject}: ${report.forgotten ? 'forgotten (no data key)' : 'not forgotten (their data key exists)'}`,
    `values searched: ${formatCount(report.valuesSearched)}${skipped > 0 ? ` (${formatCount(skipped)} given value(s) under ${minSearchLength} characters not searched)` : ''}`,
  ];
  if (report.forgotten && distinct === 0) {
    lines.push("  their plaintext cannot be read once forgotten: pass --value TEXT (an email, a name) to search the log, snapshots, read models and parked messages");
  }
  lines.push('', report.findings.length > 0 ? formatFindings(report) : 'no findings');
  const outcome = report.clean
    ? `clean: ${report.subject} is forgotten and none of their plaintext was found in the places checked`
    : report.forgotten
      ? `FOUND: ${report.subject}'s personal data is still held in ${formatCount(report.findings.length)} place(s)`
      : `FOUND: ${report.subject} is not forgotten (annals privacy forget ${report.subject} erases them)`;
  lines.push('', outcome);
  return lines.join('\n');
}

function formatFindings(report: ErasureReport): string {
  const rows = report.findings.map((f) => [f.place, formatCount(f.count), f.what, f.examples.join(', ') || '-']);
  return formatTable([{ title: 'place' }, { title: 'count', align: 'right' }, { title: 'what' }, { title: 'examples' }], rows);
}

/** `annals status`' personal data section: subjects, erasures performed, the last one. */
export function formatPrivacyStatus(status: PrivacyStatus): string {
  const last = status.lastErasureAt ? `, the last at ${status.lastErasureAt.toISOString()}` : '';
  return `personal data: ${formatCount(status.subjects)} data subject(s); ${formatCount(status.erasures)} erasure(s) performed${last}`;
}
