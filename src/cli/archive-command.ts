import { archiveEvents, restoreArchive, type ArchiveReport } from '../archive/archive-events.js';
import type { ArchiveStatus } from '../archive/archive-status.js';
import { configOf, jsonOption, print, text, type CommandInput, type CommandSpec } from './command-spec.js';
import { formatCount, toJson } from './output.js';
import { listenForStop } from './signals.js';
import { announceDatabase, schemaFor, withStore } from './store.js';
import { ExitCodes, integerOption, positionOption, UsageError } from './usage-error.js';

/**
 * `annals archive run` and `annals archive restore`: archiveEvents and restoreArchive on
 * the config's store (docs/archive.md). Reads are unchanged by either: only where the
 * rows are changes.
 */
export const archiveCommands: readonly CommandSpec[] = [
  {
    path: ['archive', 'run'],
    arguments: '',
    minArgs: 0,
    maxArgs: 0,
    summary: 'move the oldest events (through a position, or older than an age) into the archive table; every read still sees them',
    options: {
      through: { type: 'string', value: 'POSITION', description: 'archive the events at or below this global position (with --older-than: the events meeting both)' },
      'older-than': { type: 'string', value: 'DURATION', description: 'archive the events recorded longer ago than this: 30d, 12h, 90m, 45s, or milliseconds' },
      'batch-size': { type: 'string', value: 'N', description: 'events moved per transaction (default 5000, at most 100000)' },
      'dry-run': { type: 'boolean', description: 'count what would be moved, move nothing' },
      json: jsonOption,
    },
    async run(input) {
      const through = positionOption('--through', text(input, 'through'));
      const olderThanMs = durationOption('--older-than', text(input, 'older-than'));
      if (through === undefined && olderThanMs === undefined) {
        throw new UsageError('annals archive run needs --through POSITION or --older-than DURATION (both: the events that meet both); see annals archive run --help');
      }
      const batchSize = batchSizeOf(input);
      const dryRun = input.values['dry-run'] === true;
      const json = input.values.json === true;
      const config = await configOf(input);
      return withStore(schemaFor({ config: config.schema }), async (store, { database }) => {
        // A large archive takes a while: the first SIGINT or SIGTERM ends the run between
        // two batches (each commits on its own), so what was moved is reported, not lost.
        const stopping = new AbortController();
        let stoppedBy: NodeJS.Signals | undefined;
        const stop = listenForStop((signal) => {
          stoppedBy = signal;
          process.stderr.write(`annals: ${signal}: stopping after the batch in flight; what was moved stays archived\n`);
          stopping.abort();
        });
        try {
          const report = await archiveEvents(store, {
            ...(through === undefined ? {} : { through }),
            ...(olderThanMs === undefined ? {} : { olderThanMs }),
            ...(batchSize === undefined ? {} : { batchSize }),
            dryRun,
            signal: stopping.signal,
          });
          print(announceDatabase({ json, database })(json ? toJson(report) : formatArchive(report, stoppedBy)));
          return stoppedBy === undefined ? ExitCodes.ok : ExitCodes.interrupted;
        } finally {
          stop.dispose();
        }
      });
    },
  },
  {
    path: ['archive', 'restore'],
    arguments: '',
    minArgs: 0,
    maxArgs: 0,
    summary: 'move archived events back into the log (default: all), newest first; the archive point goes down with them',
    options: {
      after: { type: 'string', value: 'POSITION', description: 'restore only the archived events above this global position' },
      'batch-size': { type: 'string', value: 'N', description: 'events moved back per transaction (default 5000, at most 100000)' },
      json: jsonOption,
    },
    async run(input) {
      const after = positionOption('--after', text(input, 'after'));
      const batchSize = batchSizeOf(input);
      const json = input.values.json === true;
      const config = await configOf(input);
      return withStore(schemaFor({ config: config.schema }), async (store, { database }) => {
        const result = await restoreArchive(store, { ...(after === undefined ? {} : { after }), ...(batchSize === undefined ? {} : { batchSize }) });
        const line = `restored ${formatCount(result.restored)} event(s) to the log; ${archivePoint(result.archivedThrough)}`;
        print(announceDatabase({ json, database })(json ? toJson(result) : line));
        return ExitCodes.ok;
      });
    },
  },
];

/** `--batch-size`, checked here so that the message names the flag (archiveEvents would name options.batchSize). */
function batchSizeOf(input: CommandInput): number | undefined {
  const value = text(input, 'batch-size');
  const batchSize = integerOption('--batch-size', value);
  if (batchSize !== undefined && (batchSize < 1 || batchSize > 100_000)) throw new UsageError(`--batch-size must be from 1 to 100000, got '${value}'`);
  return batchSize;
}

const unitMs: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration given for `flag` in milliseconds, or undefined when the flag is absent: a
 * whole number with a unit (`30d`, `12h`, `90m`, `45s`, `250ms`) or alone (milliseconds).
 *
 * @example
 * ```ts
 * durationOption('--older-than', '30d'); // 2592000000
 * durationOption('--older-than', '1500'); // 1500
 * ```
 * @throws UsageError naming the flag and the value given
 */
export function durationOption(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d{1,15})(ms|s|m|h|d)?$/.exec(value.trim());
  const ms = match ? Number(match[1]) * unitMs[match[2] ?? 'ms']! : NaN;
  if (!Number.isSafeInteger(ms)) {
    throw new UsageError(`${flag} must be a duration: a whole number with d, h, m, s or ms (30d, 12h, 90m, 45s), or of milliseconds, got '${value}'`);
  }
  return ms;
}

/**
 * A size in bytes for people, in binary units with one decimal: `512 B`, `1.2 MiB`.
 *
 * @example
 * ```ts
 * formatBytes(1_258_291); // '1.2 MiB'
 * ```
 */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  // 1023.96 KiB would print as 1024.0 KiB: past 1023.95 it is the next unit.
  while (value >= 1023.95 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

const archivePoint = (through: bigint) => (through === 0n ? 'nothing is archived' : `every event at or below position ${through} is in the archive`);

/** What a run moved (or would move), and where the archive point is now. */
export function formatArchive(report: ArchiveReport, stoppedBy?: NodeJS.Signals): string {
  const moved = formatCount(report.moved);
  if (report.dryRun) return `dry run: would archive ${moved} event(s); ${archivePoint(report.archivedThrough)} now`;
  if (stoppedBy !== undefined) return `stopped by ${stoppedBy}: archived ${moved} event(s); ${archivePoint(report.archivedThrough)}; run it again to archive the rest`;
  return `archived ${moved} event(s); ${archivePoint(report.archivedThrough)}`;
}

/** `annals status`' archive line: what the archive holds, its size, when it last grew. */
export function formatArchiveStatus(status: ArchiveStatus): string {
  const last = status.lastArchivedAt ? `, last at ${status.lastArchivedAt.toISOString()}` : '';
  return `archive: ${formatCount(status.archivedEvents)} event(s) through position ${status.archivedThrough}, ${formatBytes(status.archiveBytes)} on disk${last}`;
}
