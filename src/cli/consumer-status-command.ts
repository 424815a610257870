import { partitionsByStream } from '../consumers/partition-key.js';
import { consumerStatus, type Consumer, type ConsumerStatus, type EventStore } from '../index.js';
import { announceDatabase } from './store.js';
import { formatCount, formatDuration, formatTable, toJson, truncate } from './output.js';

/**
 * `annals consumers status [NAME...] [--json]`: where the consumers stand, per partition.
 * JSON is consumerStatus's result as it is, bigints as strings. Which database that is
 * comes first (announceDatabase).
 */
export async function consumerStatusCommand(
  store: EventStore,
  consumers: readonly Consumer[],
  options: { json: boolean; database?: string },
): Promise<string> {
  const announced = announceDatabase(options);
  const status = await consumerStatus(store, consumers);
  if (options.json) return announced(toJson(status));
  // Counted, not subtracted: positions are sparse, and a consumer reads only its types
  // and categories. A count is of the partition's own events after the checkpoint when
  // its key is the stream id (Postgres can tell the partition), else of every partition's.
  const lags = new Map<string, number>();
  for (const p of status.partitions) {
    const consumer = consumers.find((c) => c.name === p.consumer);
    const byStream = consumer && partitionsByStream(consumer.partitions, consumer.definition.partitionKey);
    const filter = {
      ...(consumer?.eventTypes ? { types: consumer.eventTypes } : {}),
      ...(consumer?.categories ? { categories: consumer.categories } : {}),
      ...(byStream ? { partition: { index: p.partition, count: byStream.count } } : {}),
    };
    lags.set(`${p.consumer}/${p.partition}`, (await store.countEvents({ ...filter, after: p.position, until: status.head })).count);
  }
  return announced(formatConsumerStatus(status, { configured: consumers.map((c) => c.name), lags }));
}

const columns = [
  { title: 'consumer' },
  { title: 'part', align: 'right' },
  { title: 'state' },
  { title: 'checkpoint', align: 'right' },
  { title: 'lag', align: 'right' },
  { title: 'events/s', align: 'right' },
  { title: 'retries', align: 'right' },
  { title: 'dead', align: 'right' },
  { title: 'owner' },
  { title: 'heartbeat', align: 'right' },
] as const;

/**
 * The status as a terminal table, one line per partition, then the consumers that have
 * not run in this store yet; under it, what needs a person: pending dead letters and
 * stopped partitions, each with the command that deals with it.
 */
export function formatConsumerStatus(
  status: ConsumerStatus,
  { configured, lags, now = Date.now() }: { configured: readonly string[]; lags: ReadonlyMap<string, number>; now?: number },
): string {
  const age = (at: Date | null) => (at === null ? '-' : formatDuration(Math.max(0, now - new Date(at).getTime())));
  const rows = status.partitions.map((p) => [
    p.consumer,
    String(p.partition),
    p.stoppedError !== null ? 'stopped' : p.caughtUp ? 'caught up' : 'behind',
    p.position.toString(),
    formatCount(lags.get(`${p.consumer}/${p.partition}`) ?? 0),
    p.throughput > 0 ? formatCount(p.throughput) : '0',
    formatCount(p.retries),
    formatCount(p.deadLettered),
    p.owner ?? '-',
    p.owner === null ? '-' : age(p.heartbeatAt),
  ]);
  const started = new Set(status.partitions.map((p) => p.consumer));
  for (const name of configured) {
    if (!started.has(name)) rows.push([name, '-', 'not set up', '-', '-', '-', '-', '-', '-', '-']);
  }
  const notes: string[] = [];
  for (const name of configured) {
    const pending = status.pendingDeadLetters[name] ?? 0;
    if (pending > 0) notes.push(`${name}: ${pending} pending dead letter(s); see annals consumers dead-letters --consumer ${name}`);
  }
  for (const p of status.partitions) {
    if (p.stoppedError !== null) {
      notes.push(`${p.consumer} partition ${p.partition} stopped: ${truncate(p.stoppedError, 200)}; fix the handler, then annals consumers resume ${p.consumer}`);
    }
  }
  const lines = [`head: ${status.head}`, '', formatTable(columns, rows)];
  if (notes.length > 0) lines.push('', ...notes);
  return lines.join('\n');
}
