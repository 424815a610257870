import { StreamTruncatedError } from '../errors.js';
import type { EventStoreSession, RecordedEvent } from '../event-store/event-store.js';
import type { AnyAggregate, StateOf } from './define-aggregate.js';

/** Events read per round trip while replaying a stream. */
const pageSize = 1000;

export interface LoadedAggregate<State> {
  state: State;
  /** The stream version the state includes (0: no events). */
  version: number;
}

/**
 * Rebuilds an aggregate's current state: from its latest snapshot of the right version
 * when there is one, then the events after it, each upcast to its current shape.
 */
export async function loadAggregate<A extends AnyAggregate>(
  session: EventStoreSession,
  aggregate: A,
  id: string,
): Promise<LoadedAggregate<StateOf<A>>> {
  const streamId = aggregate.streamId(id);
  const policy = aggregate.snapshots;
  if (!policy) return replay(session, aggregate, { streamId, from: { state: aggregate.initialState(), version: 0 } });
  // Snapshot and the events after it in one round trip: loading is on every command's path.
  const { snapshot, events, stream } = await session.readStreamFromSnapshot(streamId, { snapshotVersion: policy.version, limit: pageSize });
  const from = snapshot
    ? { state: policy.fromSnapshot ? policy.fromSnapshot(snapshot.state) : (snapshot.state as StateOf<A>), version: snapshot.streamVersion }
    : { state: aggregate.initialState(), version: 0 };
  // The stream row came with the page, so a gap after the snapshot is checked here
  // without another round trip.
  if (events[0]?.version !== from.version + 1) refuseTruncatedHistory(streamId, from.version, stream);
  return replay(session, aggregate, { streamId, from, firstPage: events });
}

export interface AggregateStreamOptions {
  /** State as of this stream version (inclusive). */
  toVersion?: number;
  /** State as of this moment: only events recorded at or before it. */
  asOf?: Date;
}

/**
 * The state of an aggregate as of a version or a point in time, replayed from its events
 * (event sourcing's time travel). Without options, the current state.
 *
 * @example
 * ```ts
 * const { state } = await aggregateStream(store, bankAccount, 'acc-1', { asOf: new Date('2026-01-01') });
 * ```
 */
export async function aggregateStream<A extends AnyAggregate>(
  session: EventStoreSession,
  aggregate: A,
  id: string,
  options: AggregateStreamOptions = {},
): Promise<LoadedAggregate<StateOf<A>>> {
  return replay(session, aggregate, { streamId: aggregate.streamId(id), from: { state: aggregate.initialState(), version: 0 }, until: options });
}

/** What {@link replay} replays: a stream from a state, up to a bound. */
interface Replay<State> {
  streamId: string;
  /** The state to apply the stream's later events to (a snapshot's, or the initial one). */
  from: LoadedAggregate<State>;
  /** Where to stop (default: the stream's end). */
  until?: AggregateStreamOptions;
  /** The events after `from`, already read with the snapshot. */
  firstPage?: RecordedEvent[];
}

async function replay<A extends AnyAggregate>(
  session: EventStoreSession,
  aggregate: A,
  { streamId, from, until = {}, firstPage }: Replay<StateOf<A>>,
): Promise<LoadedAggregate<StateOf<A>>> {
  let { state, version } = from;
  for (let first = true; ; first = false) {
    const page: RecordedEvent[] =
      first && firstPage
        ? firstPage
        : await session.readStream(streamId, {
            fromVersion: version + 1,
            ...(until.toVersion === undefined ? {} : { toVersion: until.toVersion }),
            limit: pageSize,
          });
    // A page that does not start right after `version` may mean events were truncated
    // away; only then is the stream row worth a round trip.
    if (first && !firstPage && page[0]?.version !== version + 1) {
      refuseTruncatedHistory(streamId, version, await session.getStreamInfo(streamId));
    }
    for (const event of page) {
      if (until.asOf && event.recordedAt > until.asOf) return { state, version };
      state = aggregate.evolve(state, aggregate.eventCodec.decode(event));
      version = event.version;
    }
    if (page.length < pageSize) return { state, version };
  }
}

/**
 * Throws when the versions after `version` that belong to the stream's current life
 * were truncated away. (Versions before `historyStart` belong to a deleted former life
 * and are rightly skipped.)
 */
function refuseTruncatedHistory(
  streamId: string,
  version: number,
  info: { truncateBefore: number; historyStart: number } | null,
): void {
  if (!info) return;
  const needed = Math.max(version + 1, info.historyStart);
  if (info.truncateBefore > needed) throw new StreamTruncatedError(streamId, needed, info.truncateBefore);
}
