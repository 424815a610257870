import { randomInt, randomUUID } from 'node:crypto';

/**
 * The one event shape every contestant appends and reads: a "like" with small metadata,
 * the typical size of a domain event (about 150 bytes of JSON).
 */
export interface LikeEvent {
  type: 'LikeCreated';
  data: { postId: string; userId: string; likedAt: string };
  metadata: { correlationId: string; source: string };
}

export function likeEvent(postId: string): LikeEvent {
  return {
    type: 'LikeCreated',
    data: { postId, userId: `user-${randomInt(1_000_000)}`, likedAt: new Date().toISOString() },
    metadata: { correlationId: randomUUID(), source: 'bench' },
  };
}

export interface ReadOptions {
  /** Events per round trip. */
  batchSize: number;
  /** Stop after this many events (default: the whole log). */
  limit?: number;
  /** Stop at this performance.now() time even if the log is not finished. */
  deadline?: number;
  /** Called once per page, so the harness can sample memory at the fullest moment. */
  onPage?: () => void;
}

/** One stream's share of an append that spans several streams in one transaction. */
export interface StreamAppend {
  streamId: string;
  events: readonly LikeEvent[];
  /** Events already in the stream, as for `Contestant.append`. */
  version: number;
}

/**
 * What each contestant implements: the same operations, each done the way that
 * contestant does them. Every contestant opens its own pool of `maxConnections`.
 */
export interface Contestant {
  /**
   * Appends `events` to `streamId`, whose version the caller tracks: `version` events are
   * in it already (0: it does not exist yet). The append checks that version atomically,
   * as a command handler would, and throws when it does not hold.
   */
  append(streamId: string, events: readonly LikeEvent[], version: number): Promise<void>;
  /**
   * Appends to several streams in one transaction, each checked as `append` does. Only
   * contestants with a transaction API of their own implement it (Annals' withTransaction).
   */
  appendInTransaction?(appends: readonly StreamAppend[]): Promise<void>;
  /** Reads the global log from its start in position order; returns the events read. */
  readAll(options: ReadOptions): Promise<number>;
  close(): Promise<void>;
}

/** True once a reader should stop: `limit` events read or `deadline` passed. */
export function readDone(read: number, options: ReadOptions, time: number): boolean {
  return (options.limit !== undefined && read >= options.limit) || (options.deadline !== undefined && time >= options.deadline);
}
