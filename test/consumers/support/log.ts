/**
 * Events to consume, appended for the integration tests of the engine, and what the
 * tests compare against (no vitest here: the takeover's child process imports it too).
 */
import { partitionOfKey, type EventStore } from 'annals';

/** An appended event, as the tests compare it with what a handler saw. */
export interface Appended {
  id: string;
  streamId: string;
  version: number;
  globalPosition: bigint;
}

/**
 * Appends `perStream` events to each of `streams`, interleaved (version 1 of every
 * stream, then version 2, ...), one append each, so the streams' events alternate in
 * the log. `data(streamId, version)` gives each event's data (default `{ n: version }`).
 */
export async function appendInterleaved(
  store: EventStore,
  streams: readonly string[],
  perStream: number,
  options: { type?: string; data?: (streamId: string, version: number) => Record<string, unknown>; from?: number } = {},
): Promise<Appended[]> {
  const appended: Appended[] = [];
  const from = options.from ?? 1;
  for (let version = from; version < from + perStream; version++) {
    for (const streamId of streams) {
      const data = options.data?.(streamId, version) ?? { n: version };
      const result = await store.appendToStream(streamId, [{ type: options.type ?? 'Ticked', data }], { expectedVersion: version - 1 === 0 ? 'no_stream' : version - 1 });
      appended.push({ id: result.eventIds[0]!, streamId, version, globalPosition: result.lastGlobalPosition });
    }
  }
  return appended;
}

/** Stream ids `<prefix>-<i>`, enough of them that each of `partitions` partitions holds `perPartition`. */
export function streamsCovering(prefix: string, partitions: number, perPartition: number): string[] {
  const counts = new Array<number>(partitions).fill(0);
  const streams: string[] = [];
  for (let i = 0; counts.some((count) => count < perPartition); i++) {
    const streamId = `${prefix}-${i}`;
    const partition = partitionOfKey(streamId, partitions);
    if (counts[partition]! >= perPartition) continue;
    counts[partition]!++;
    streams.push(streamId);
  }
  return streams;
}

/** The ids, sorted: for comparing sets of events whatever the order they were handled in. */
export const sortedIds = (events: readonly { id?: string; eventId?: string }[]) => events.map((event) => event.id ?? event.eventId!).sort();
