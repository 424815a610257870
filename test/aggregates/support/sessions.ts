import { ConcurrencyError, type EventStore, type EventStoreSession } from 'annals';

/**
 * `session` with some methods replaced; every other call goes to the real one. Lets a
 * test watch or break what `handleCommand` and `loadAggregate` do against a real store.
 */
export function wrapSession<S extends EventStoreSession>(session: S, overrides: Partial<EventStoreSession>): S {
  return new Proxy(session, {
    get(target, property, receiver) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof EventStoreSession];
      const value: unknown = Reflect.get(target, property, receiver);
      // The store keeps #private fields: its methods must run with the store as `this`.
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * Counts the events read through `readStream` and `readStreamFromSnapshot`: how much of
 * a stream a load replayed.
 */
export function countingReads<S extends EventStoreSession>(session: S) {
  let eventsRead = 0;
  const counted = wrapSession(session, {
    readStream: async (streamId, options) => {
      const events = await session.readStream(streamId, options);
      eventsRead += events.length;
      return events as never;
    },
    readStreamFromSnapshot: async (streamId, options) => {
      const read = await session.readStreamFromSnapshot(streamId, options);
      eventsRead += read.events.length;
      return read as never;
    },
  });
  return {
    session: counted,
    eventsRead: () => eventsRead,
  };
}

/** Counts the appends the store refused with ConcurrencyError: conflicts a caller retried. */
export function countingConflicts<S extends EventStoreSession>(session: S, counter: { conflicts: number }): S {
  return wrapSession(session, {
    appendToStream: async (...args) => {
      try {
        return await session.appendToStream(...args);
      } catch (error) {
        if (error instanceof ConcurrencyError) counter.conflicts++;
        throw error;
      }
    },
  });
}

/**
 * Holds `count` callers after their first stream read until all of them have read, so
 * they all decide on the same version and really race to append. Without it, who
 * conflicts with whom depends on the scheduler.
 */
export function startingLine(count: number, timeoutMs = 20_000) {
  let arrived = 0;
  let release!: () => void;
  const allThere = new Promise<void>((resolve) => (release = resolve));
  const timeout = new Promise<never>((_, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${arrived} of ${count} callers reached the starting line`)), timeoutMs);
    void allThere.then(() => clearTimeout(timer));
  });
  return {
    /** `session`, whose first stream read returns only once every caller has read. */
    hold<S extends EventStoreSession>(session: S): S {
      let first = true;
      const waitForAll = async () => {
        if (!first) return;
        first = false;
        if (++arrived === count) release();
        await Promise.race([allThere, timeout]);
      };
      return wrapSession(session, {
        readStream: async (streamId, options) => {
          const events = await session.readStream(streamId, options);
          await waitForAll();
          return events as never;
        },
        readStreamFromSnapshot: async (streamId, options) => {
          const read = await session.readStreamFromSnapshot(streamId, options);
          await waitForAll();
          return read as never;
        },
      });
    },
  };
}

/** Rows in the store's tables, read directly: proof that nothing was written. */
export async function rowCounts(store: EventStore): Promise<{ events: number; streams: number; snapshots: number }> {
  const [row] = await store.withTransaction((tx) =>
    tx.query<{ events: number; streams: number; snapshots: number }>(
      `SELECT (SELECT count(*) FROM "${store.schema}".events)::int AS events,
              (SELECT count(*) FROM "${store.schema}".streams)::int AS streams,
              (SELECT count(*) FROM "${store.schema}".snapshots)::int AS snapshots`,
    ),
  );
  return row!;
}
