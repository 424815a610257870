import {
  projectionStatus,
  type AnyProjection,
  type EventStore,
  type LogHoldback,
  type PartitionStatus,
  type ProjectionStatus,
} from '../index.js';
import type { Outbox } from '../outbox/define-outbox.js';
import { outboxStatus, type OutboxStatus } from '../outbox/outbox-status.js';
import { formatCount, formatDuration, formatPercent, formatTable, toJson, truncate } from './output.js';
import { announceDatabase } from './store.js';
import type { Retention } from '../retention/define-retention.js';
import { retentionStatus } from '../retention/retention-status.js';
import { formatRetentionStatus } from './retention-command.js';
import { privacyStatus } from '../privacy/privacy-status.js';
import { formatPrivacyStatus } from './privacy-command.js';
import { archiveStatus } from '../archive/archive-status.js';
import { formatArchiveStatus } from './archive-command.js';

/**
 * `annals status [--json]`: where every configured projection stands, per generation and
 * partition, and the session holding the log back if one is; then the configured
 * outboxes (formatOutboxStatus). JSON is projectionStatus's result as it is, bigints as
 * strings (`logHeldBackBy` is null or that session), with `outboxes` (outboxStatus's
 * result) when the config lists any. Which database that is comes first (announceDatabase).
 */
export async function statusCommand(
  store: EventStore,
  projections: readonly AnyProjection[],
  options: { json: boolean; database?: string; outboxes?: readonly Outbox[]; retention?: Retention | undefined },
): Promise<string> {
  const announced = announceDatabase(options);
  const status = await projectionStatus(store, projections);
  const outboxes = options.outboxes ?? [];
  const outboxStatuses = outboxes.length > 0 ? await outboxStatus(store, outboxes) : undefined;
  const retention = options.retention ? await retentionStatus(store, options.retention) : undefined;
  // Shown once the store holds personal data: a store without any has nothing to say here.
  const read = await privacyStatus(store);
  const privacy = read.subjects > 0 || read.erasures > 0 ? read : undefined;
  // Likewise the archive, once something was archived.
  const archived = await archiveStatus(store);
  const archive = archived.archivedEvents > 0 || archived.archivedThrough > 0n ? archived : undefined;
  if (options.json) {
    return announced(
      toJson({
        ...status,
        ...(outboxStatuses ? { outboxes: outboxStatuses } : {}),
        ...(retention ? { retention } : {}),
        ...(privacy ? { privacy } : {}),
        ...(archive ? { archive } : {}),
      }),
    );
  }
  const sections = [formatStatus(status, projections.map((p) => p.name))];
  if (outboxStatuses) sections.push(formatOutboxStatus(outboxStatuses));
  if (retention) sections.push(formatRetentionStatus(retention));
  if (privacy) sections.push(formatPrivacyStatus(privacy));
  if (archive) sections.push(formatArchiveStatus(archive));
  return announced(sections.join('\n\n'));
}

const destinationColumns = [
  { title: 'outbox' },
  { title: 'destination' },
  { title: 'publisher' },
  { title: 'pending', align: 'right' },
  { title: 'oldest', align: 'right' },
  { title: 'parked', align: 'right' },
  { title: 'held', align: 'right' },
] as const;

const relayColumns = [
  { title: 'outbox' },
  { title: 'part', align: 'right' },
  { title: 'state' },
  { title: 'checkpoint', align: 'right' },
  { title: 'pending', align: 'right' },
  { title: 'msgs/s', align: 'right' },
  { title: 'owner' },
] as const;

/**
 * The outboxes as two terminal tables: per destination (pending, age of the oldest,
 * parked, held), then per partition of the relay (checkpoint, pending, rate, owner);
 * under them what needs a person: parked messages and stopped partitions, each with
 * the command that deals with it. A relay that never ran shows `not set up`.
 */
export function formatOutboxStatus(statuses: readonly OutboxStatus[]): string {
  const destinations = statuses.flatMap((status) =>
    status.destinations.map((d) => [
      status.outbox,
      d.destination,
      d.publisher,
      formatCount(d.pending),
      d.oldestPendingAgeMs === null ? '-' : formatDuration(d.oldestPendingAgeMs),
      formatCount(d.parked),
      formatCount(d.held),
    ]),
  );
  const relays = statuses.flatMap((status) =>
    status.partitions.map((p) => {
      const setUp = p.publishRate !== null;
      const state = !setUp ? 'not set up' : p.lastError !== null ? 'stopped' : p.pending > 0 ? 'behind' : 'caught up';
      return [status.outbox, String(p.partition), state, setUp ? p.position.toString() : '-', formatCount(p.pending), p.publishRate ? formatCount(p.publishRate) : '0', p.owner ?? '-'];
    }),
  );
  const notes: string[] = [];
  for (const status of statuses) {
    const parked = status.destinations.reduce((sum, d) => sum + d.parked, 0);
    if (parked > 0) notes.push(`${status.outbox}: ${parked} parked message(s) holding their keys; see annals outbox parked list`);
    for (const p of status.partitions) {
      if (p.lastError !== null) notes.push(`${status.outbox} partition ${p.partition} stopped: ${truncate(p.lastError, 200)}`);
    }
  }
  const lines = [formatTable(destinationColumns, destinations), '', formatTable(relayColumns, relays)];
  if (notes.length > 0) lines.push('', ...notes);
  return lines.join('\n');
}

const columns = [
  { title: 'projection' },
  { title: 'gen', align: 'right' },
  { title: 'status' },
  { title: 'part', align: 'right' },
  { title: 'checkpoint', align: 'right' },
  { title: 'lag', align: 'right' },
  { title: 'oldest', align: 'right' },
  { title: 'events/s', align: 'right' },
  { title: 'retries', align: 'right' },
  { title: 'dead', align: 'right' },
  { title: 'owner' },
  { title: 'heartbeat', align: 'right' },
  { title: 'rebuild', align: 'right' },
] as const;

/**
 * The status as a terminal table, one line per generation and partition, then the
 * projections no worker has set up yet, pending dead letters, skew and stopped partitions.
 * Under the head, the session holding the log back, if any: it explains a head that
 * does not move and lag in every projection at once.
 */
export function formatStatus(status: ProjectionStatus, configured: readonly string[], now = Date.now()): string {
  const rows = status.partitions.map((p) => partitionRow(p, now));
  const started = new Set(status.partitions.map((p) => p.projection));
  for (const name of configured) {
    if (!started.has(name)) rows.push([name, '-', 'not set up', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-']);
  }
  const lines = [`head: ${status.head}`];
  if (status.logHeldBackBy) lines.push(holdbackLine(status.logHeldBackBy, now));
  lines.push('', formatTable(columns, rows));
  const notes: string[] = [];
  for (const summary of status.projections) {
    if (summary.pendingDeadLetters > 0) {
      notes.push(`${summary.name}: ${summary.pendingDeadLetters} pending dead letter(s); see annals projections dead-letters --projection ${summary.name}`);
    }
    for (const worker of summary.idleWorkers) {
      const live = status.partitions.find((p) => p.projection === summary.name && p.status === 'live');
      notes.push(
        `${summary.name}: worker ${worker.workerId} runs version ${worker.version}, which has no generation${live ? ` (live: version ${live.version})` : ''}; it processes nothing of ${summary.name}`,
      );
    }
    if (summary.skew !== null && summary.skew >= 1.5) notes.push(`${summary.name}: partition skew ${summary.skew.toFixed(2)} (busiest partition / mean)`);
  }
  for (const p of status.partitions) {
    if (p.stoppedError !== null) {
      notes.push(`${p.projection} generation ${p.generation} partition ${p.partition} stopped: ${truncate(p.stoppedError, 200)}; fix the handler, then annals projections resume ${p.projection}`);
    }
  }
  if (notes.length > 0) lines.push('', ...notes);
  return lines.join('\n');
}

function partitionRow(p: PartitionStatus, now: number): string[] {
  const age = (at: Date | null) => (at === null ? '-' : formatDuration(Math.max(0, now - new Date(at).getTime())));
  return [
    p.projection,
    String(p.generation),
    p.stoppedError !== null ? `${p.status} (stopped)` : p.status,
    String(p.partition),
    p.position.toString(),
    formatCount(p.lag),
    p.oldestUnprocessedAgeMs === null ? '-' : formatDuration(p.oldestUnprocessedAgeMs),
    p.throughput > 0 ? formatCount(p.throughput) : '0',
    formatCount(p.retries),
    formatCount(p.deadLettered),
    p.owner ?? '-',
    p.owner === null ? '-' : age(p.heartbeatAt),
    p.rebuildProgress === null ? '-' : formatPercent(p.rebuildProgress),
  ];
}

/**
 * `log held back since 13:02:11 (42.0s) by pid 1234 (application 'importer', idle in
 * transaction): INSERT ...`, the query cut to 100 characters so the line stays one line.
 */
function holdbackLine(by: LogHoldback, now: number): string {
  const session = [by.applicationName === '' ? 'no application name' : `application '${by.applicationName}'`, by.state].filter(Boolean);
  const query = by.query === '' ? '' : `: ${truncate(by.query, 100)}`;
  return `log held back since ${clockTime(by.transactionStartedAt, now)} (${formatDuration(by.ageMs)}) by pid ${by.pid} (${session.join(', ')})${query}`;
}

/** Local time of day, with the date in front when it is not today's. */
function clockTime(at: Date, now: number): string {
  const two = (n: number) => String(n).padStart(2, '0');
  const time = `${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}`;
  const today = new Date(now);
  const sameDay = at.getFullYear() === today.getFullYear() && at.getMonth() === today.getMonth() && at.getDate() === today.getDate();
  return sameDay ? time : `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())} ${time}`;
}
