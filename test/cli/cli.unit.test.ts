import { describe, expect, it } from 'vitest';
import { formatDuration, formatTable, toJson } from '../../src/cli/output.js';
import { EtaEstimator, RateMeter, renderProgress } from '../../src/cli/progress.js';
import { helpText, parseCommandLine } from '../../src/cli/run-cli.js';
import { formatConsumerStatus } from '../../src/cli/consumer-status-command.js';
import { durationOption, formatArchive, formatArchiveStatus, formatBytes } from '../../src/cli/archive-command.js';
import { formatStatus } from '../../src/cli/status-command.js';
import { positionOption, UsageError } from '../../src/cli/usage-error.js';

describe('the command line', () => {
  it('finds the command by its words, with options before or after them', () => {
    const parsed = parseCommandLine(['--config', 'x.ts', 'projections', 'run', 'a', 'b', '--batch-size', '10', '--no-auto-rebuild']);
    expect(parsed.command?.path).toEqual(['projections', 'run']);
    expect(parsed.args).toEqual(['a', 'b']);
    expect(parsed.values).toMatchObject({ config: 'x.ts', 'batch-size': '10', 'no-auto-rebuild': true });
  });

  it('reads projections dead-letters alone as list, and retry ID as retry', () => {
    expect(parseCommandLine(['projections', 'dead-letters', '--json']).command?.path).toEqual(['projections', 'dead-letters']);
    const retry = parseCommandLine(['projections', 'dead-letters', 'retry', '7']);
    expect([retry.command?.path, retry.args]).toEqual([['projections', 'dead-letters', 'retry'], ['7']]);
  });

  it('reads consumers dead-letters alone as list, retry ID as retry, and consumers status NAME...', () => {
    expect(parseCommandLine(['consumers', 'dead-letters', '--consumer', 'mails']).command?.path).toEqual(['consumers', 'dead-letters']);
    const retry = parseCommandLine(['consumers', 'dead-letters', 'retry', '7']);
    expect([retry.command?.path, retry.args]).toEqual([['consumers', 'dead-letters', 'retry'], ['7']]);
    const status = parseCommandLine(['consumers', 'status', 'a', 'b', '--json']);
    expect([status.command?.path, status.args, status.values.json]).toEqual([['consumers', 'status'], ['a', 'b'], true]);
    expect(() => parseCommandLine(['consumers', 'dead-letters', '--projection', 'x'])).toThrow(new UsageError("Unknown option '--projection'"));
  });

  it('gives a repeatable option every value, in order', () => {
    const parsed = parseCommandLine(['privacy', 'verify', 'acc', '--value', 'Ada Lovelace', '--json', '--value', 'ada@example.com']);
    expect([parsed.command?.path, parsed.args, parsed.values.value]).toEqual([['privacy', 'verify'], ['acc'], ['Ada Lovelace', 'ada@example.com']]);
    expect(parseCommandLine(['privacy', 'verify', 'acc']).values.value).toBeUndefined();
  });

  it('names what is wrong: an unknown command, an option of another command, a missing or extra argument', () => {
    expect(() => parseCommandLine(['projection', 'run'])).toThrow(new UsageError("unknown command 'projection' (expected projections, serve, start, consumers, outbox, schemas, retention, archive, privacy, status, migrate); see annals --help"));
    expect(() => parseCommandLine(['status', '--from', '5'])).toThrow(new UsageError("Unknown option '--from'"));
    expect(() => parseCommandLine(['projections', 'resume'])).toThrow(/needs NAME/);
    expect(() => parseCommandLine(['projections', 'resume', 'a', 'b'])).toThrow(/unexpected argument 'b'/);
    expect(() => parseCommandLine([])).toThrow(/no command given/);
  });

  it('gives help for the whole command or one subcommand', () => {
    expect(parseCommandLine(['--help']).command).toBeUndefined();
    const help = parseCommandLine(['help', 'projections', 'rebuild']);
    expect(help.command?.path).toEqual(['projections', 'rebuild']);
    expect(helpText(help.command)).toContain('--from POSITION');
    expect(parseCommandLine(['projections', '--help']).values.help).toBe(true);
  });

  it('reads archive run and archive restore with their own options only', () => {
    const run = parseCommandLine(['archive', 'run', '--older-than', '30d', '--through', '12', '--dry-run']);
    expect([run.command?.path, run.values]).toEqual([['archive', 'run'], { 'older-than': '30d', through: '12', 'dry-run': true }]);
    expect(parseCommandLine(['archive', 'restore', '--after', '7']).command?.path).toEqual(['archive', 'restore']);
    expect(() => parseCommandLine(['archive', 'restore', '--through', '5'])).toThrow(new UsageError("Unknown option '--through'"));
    expect(() => parseCommandLine(['archive'])).toThrow(/unknown command 'archive' \(expected run, restore\)/);
  });

  it('reads a duration with a unit or in milliseconds, and names the flag for anything else', () => {
    expect(['30d', '12h', '90m', '45s', '250ms', '1500', '0'].map((value) => durationOption('--older-than', value))).toEqual([
      2_592_000_000, 43_200_000, 5_400_000, 45_000, 250, 1500, 0,
    ]);
    expect(durationOption('--older-than', undefined)).toBeUndefined();
    for (const bad of ['', '3 weeks', '30x', '-5s', '1.5h', '30D', 'd', '999999999999999d']) {
      expect(() => durationOption('--older-than', bad)).toThrow(new UsageError(`--older-than must be a duration: a whole number with d, h, m, s or ms (30d, 12h, 90m, 45s), or of milliseconds, got '${bad}'`));
    }
  });

  it('reads a position as a bigint and refuses anything else', () => {
    expect(positionOption('--from', '9223372036854775807')).toBe(9223372036854775807n);
    expect(() => positionOption('--from', '9223372036854775808')).toThrow(/--from must be a global position/);
    expect(() => positionOption('--from', '1e3')).toThrow(/got '1e3'/);
  });
});

describe('output', () => {
  it('writes bigints as strings in JSON', () => {
    expect(JSON.parse(toJson({ head: 2n ** 60n, at: new Date(0) }))).toEqual({ head: '1152921504606846976', at: '1970-01-01T00:00:00.000Z' });
  });

  it('aligns table columns', () => {
    expect(formatTable([{ title: 'name' }, { title: 'n', align: 'right' }], [['a', '10'], ['bbb', '2']])).toBe('name   n\na     10\nbbb    2');
  });

  it('writes sizes in binary units', () => {
    expect([0, 512, 1023, 1024, 1_258_291, 1024 * 1024 - 1, 5 * 2 ** 30].map(formatBytes)).toEqual(['0 B', '512 B', '1023 B', '1.0 KiB', '1.2 MiB', '1.0 MiB', '5.0 GiB']);
  });

  it('says what an archive run moved, and what the archive holds', () => {
    expect(formatArchive({ dryRun: false, moved: 1234, archivedThrough: 4294967301n })).toBe('archived 1,234 event(s); every event at or below position 4294967301 is in the archive');
    expect(formatArchive({ dryRun: true, moved: 5, archivedThrough: 0n })).toBe('dry run: would archive 5 event(s); nothing is archived now');
    expect(formatArchive({ dryRun: false, moved: 5, archivedThrough: 9n }, 'SIGTERM')).toBe(
      'stopped by SIGTERM: archived 5 event(s); every event at or below position 9 is in the archive; run it again to archive the rest',
    );
    const status = { archivedThrough: 4294967301n, archivedEvents: 12_345, archiveBytes: 1_258_291, lastArchivedAt: new Date('2025-01-02T03:04:05.000Z') };
    expect(formatArchiveStatus(status)).toBe('archive: 12,345 event(s) through position 4294967301, 1.2 MiB on disk, last at 2025-01-02T03:04:05.000Z');
    expect(formatArchiveStatus({ ...status, lastArchivedAt: null })).toBe('archive: 12,345 event(s) through position 4294967301, 1.2 MiB on disk');
  });

  it('writes short durations', () => {
    expect([850, 12_340, 245_000, 7_800_000, 2 * 86_400_000].map(formatDuration)).toEqual(['850ms', '12.3s', '4m05s', '2h10m', '2d00h']);
  });

  it('draws progress as a bar for a terminal and as text for a log', () => {
    const line = { label: 'tally g2', share: 0.5, eventsPerSecond: 1234.4, etaMs: 9000, elapsedMs: 9000 };
    expect(renderProgress(line, 10)).toBe('tally g2 [█████░░░░░]  50.0%  1,234 events/s  ETA 9.0s');
    expect(renderProgress(line)).toBe('tally g2: 50.0%  1,234 events/s  ETA 9.0s  elapsed 9.0s');
  });

  it('measures events per second over its window, and the time left from the share done', () => {
    const rate = new RateMeter(5000, 0);
    rate.add(500, 1000);
    rate.add(500, 2000);
    expect(rate.perSecond(2000)).toBe(500);
    rate.add(1000, 8000);
    expect(rate.perSecond(8000)).toBe(200);
    expect(rate.total).toBe(2000);
    const eta = new EtaEstimator();
    expect(eta.remainingMs(0)).toBeUndefined();
    eta.add(0.1, 0);
    eta.add(0.3, 10_000);
    expect(eta.remainingMs(10_000)).toBeCloseTo(35_000);
  });

  it('lays the status out per partition, with notes on dead letters and stopped partitions', () => {
    const text = formatStatus(
      {
        head: 42n,
        partitions: [
          {
            projection: 'tally', generation: 2, version: 2, status: 'building', partition: 0, position: 40n, lag: 3,
            oldestUnprocessedAgeMs: 65_000, throughput: 12.6, eventsProcessed: 10, retries: 1, deadLettered: 1,
            owner: 'host:1:abc', heartbeatAt: new Date(9_000), leaseExpiresAt: null, stoppedError: 'Error: boom', rebuildProgress: 0.25,
          },
        ],
        projections: [{ name: 'tally', pendingDeadLetters: 1, skew: null, idleWorkers: [{ workerId: 'old-host:7:def', version: 1 }] }],
        logHeldBackBy: null,
      },
      ['tally', 'other'],
      10_000,
    );
    const lines = text.split('\n');
    expect(lines[0]).toBe('head: 42');
    expect(lines[3]).toMatch(/^tally\s+2\s+building \(stopped\)\s+0\s+40\s+3\s+1m05s\s+13\s+1\s+1\s+host:1:abc\s+1\.0s\s+25\.0%$/);
    expect(lines[4]).toMatch(/^other\s+-\s+not set up/);
    expect(text).toContain('tally: 1 pending dead letter(s)');
    expect(text).toContain('tally: worker old-host:7:def runs version 1, which has no generation; it processes nothing of tally');
    expect(text).toContain('tally generation 2 partition 0 stopped: Error: boom; fix the handler, then annals projections resume tally');
  });

  it("lays a consumer's status out per partition, with notes on dead letters and stopped partitions", () => {
    const partition = {
      consumer: 'mails', generation: 1, partition: 0, position: 40n, caughtUp: false, throughput: 12.6, eventsProcessed: 10,
      retries: 1, deadLettered: 2, owner: 'host:1:abc', heartbeatAt: new Date(9_000), leaseExpiresAt: null, stoppedError: null,
    };
    const text = formatConsumerStatus(
      {
        head: 42n,
        partitions: [partition, { ...partition, partition: 1, owner: null, stoppedError: 'Error: boom' }],
        pendingDeadLetters: { mails: 2, other: 0 },
      },
      { configured: ['mails', 'other'], lags: new Map([['mails/0', 3]]), now: 10_000 },
    );
    const lines = text.split('\n');
    expect(lines[0]).toBe('head: 42');
    expect(lines[2]).toMatch(/^consumer\s+part\s+state\s+checkpoint\s+lag\s+events\/s\s+retries\s+dead\s+owner\s+heartbeat$/);
    expect(lines[3]).toMatch(/^mails\s+0\s+behind\s+40\s+3\s+13\s+1\s+2\s+host:1:abc\s+1\.0s$/);
    expect(lines[4]).toMatch(/^mails\s+1\s+stopped\s+40\s+0\s+13\s+1\s+2\s+-\s+-$/);
    expect(lines[5]).toMatch(/^other\s+-\s+not set up/);
    expect(text).toContain('mails: 2 pending dead letter(s); see annals consumers dead-letters --consumer mails');
    expect(text).toContain('mails partition 1 stopped: Error: boom; fix the handler, then annals consumers resume mails');
    expect(text).not.toContain('other:');
  });
});
