import type { EventStore, EventStoreTransaction, RecordedEvent } from '../../event-store/event-store.js';
import type { AnyProjectedEvent, AnyProjection } from '../../projections/define-projection.js';
import { endOfLog, readLiveFrontier, scanLog } from './feed-reads.js';
import type { Feed } from './subscription-hub.js';

/**
 * The changes of one projection's rows, for every subscriber of one subscription
 * definition (projection-subscription.ts) in this process.
 *
 * Each round, in one repeatable-read snapshot: how far the projection's live generation
 * has come (its partitions' checkpoints; the lowest is the `frontier`); the projection's
 * events from where the last round stopped up to the highest checkpoint, to learn which
 * rows changed, at which position, and whether each change is in the live tables yet (its
 * own partition's checkpoint has passed it); and those rows. A row is pushed only once
 * its partition has applied the change, so what a subscriber gets is what a query would
 * read, and a partition behind (stopped on a failure) holds back only its own keys.
 * Checkpoints and rows are read in one snapshot, and the projection commits its rows with
 * its checkpoint: the row pushed at a position is exactly the row after the change at that
 * position (a key with a change still waiting below one applied is held until it is not).
 *
 * A projection applied inline (withInlineProjections) moves no checkpoint: appends write
 * its rows in their own transactions. Its frontier is the log's head as the snapshot's
 * readers see it, held below what its live generation still owes (feed-reads.ts,
 * readInlineFrontier): every change up to it is in the rows read. Those rows also hold
 * the changes committed above it (behind an older appender still open), so a key with
 * one is held back, pushed in the round whose frontier passes it, at its last change: a
 * row is never pushed at a position it is ahead of.
 *
 * A subscriber that arrives is served in the next round, in the same snapshot as the
 * frontier it joins at, so nothing falls between what it is sent first and what it is
 * sent live: without `after`, the current row at the frontier; with `after`, the row if it
 * changed after that position (what it missed), then live changes. Updates at or below
 * the last position a subscriber was sent are never sent again.
 */

/** What a feed needs of its definition. */
export interface FeedSource<Row> {
  readonly projection: AnyProjection;
  /** The key of the row an event changes (undefined: none the feed follows). */
  keyOf(event: AnyProjectedEvent): string | undefined;
  /** The rows of these keys, from the live tables, by key (a missing key has no row). */
  readRows(tx: EventStoreTransaction, keys: readonly string[]): Promise<Map<string, Row>>;
}

export interface FeedSubscriber<Row> {
  /** The key of the row it follows. */
  readonly key: string;
  /** The last position the client has (its `after`), or undefined: it wants the current row first. */
  readonly after: bigint | undefined;
  /** The row as of `position`, a position above every one offered before. */
  offer(row: Row | undefined, position: bigint): void;
  fail(error: unknown): void;
}

/**
 * Events read at most to tell a reconnecting subscriber what it missed: past them, it
 * gets the current row at the frontier (which holds every change up to there) rather
 * than at the position of its last change.
 */
export const maxCatchUpEvents = 10_000;

/**
 * Events read at most, each round, past the lowest checkpoint (partitions further on, one
 * stopped behind): past them, every key waits for the lowest checkpoint.
 */
export const maxAheadEvents = 10_000;

interface Entry<Row> {
  subscriber: FeedSubscriber<Row>;
  /** The highest position offered (or the client's `after`). */
  lastSent: bigint;
}

export class ProjectionFeed<Row> implements Feed {
  readonly #store: EventStore;
  readonly #source: FeedSource<Row>;
  readonly #onEmpty: () => void;
  readonly #byKey = new Map<string, Set<Entry<Row>>>();
  readonly #entries = new Map<FeedSubscriber<Row>, Entry<Row>>();
  readonly #pending = new Set<Entry<Row>>();
  /** Where the last round stopped: every change up to it has been offered. */
  #cursor: bigint | undefined;
  #generation: number | undefined;

  constructor(store: EventStore, source: FeedSource<Row>, onEmpty: () => void) {
    this.#store = store;
    this.#source = source;
    this.#onEmpty = onEmpty;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** How far the feed has offered changes (undefined before its first round found a live generation). */
  get cursor(): bigint | undefined {
    return this.#cursor;
  }

  /** Adds a subscriber; it is served from the next round on (wake the hub). */
  add(subscriber: FeedSubscriber<Row>): void {
    const entry = { subscriber, lastSent: subscriber.after ?? -1n };
    this.#entries.set(subscriber, entry);
    this.#pending.add(entry);
  }

  remove(subscriber: FeedSubscriber<Row>): void {
    const entry = this.#entries.get(subscriber);
    if (!entry) return;
    this.#entries.delete(subscriber);
    this.#pending.delete(entry);
    const keyed = this.#byKey.get(subscriber.key);
    keyed?.delete(entry);
    if (keyed?.size === 0) this.#byKey.delete(subscriber.key);
    if (this.#entries.size === 0) this.#onEmpty();
  }

  fail(error: unknown): void {
    for (const subscriber of [...this.#entries.keys()]) subscriber.fail(error);
  }

  async round(): Promise<void> {
    if (this.#entries.size === 0) return;
    // Those who arrive while the round reads wait for the next one: their first row must
    // come from the snapshot of the frontier they join at.
    const pending = [...this.#pending];
    const found = await this.#store.withTransaction((tx) => this.#read(tx, pending), { appends: false });
    if (found) this.#publish(found, pending);
  }

  async #read(tx: EventStoreTransaction, pending: readonly Entry<Row>[]): Promise<Found<Row> | undefined> {
    // One snapshot for the checkpoints and the rows: the projection commits its rows with
    // its checkpoint (an inline one, with its events), so the rows read are exactly those
    // as of the checkpoints (the events) read.
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const live = await readLiveFrontier(tx, this.#source.projection.name);
    if (!live) return undefined;
    const cursor = this.#cursor ?? live.frontier;
    // A live generation behind where the feed was (a switch to one still catching up):
    // its rows would take subscribers back; wait until it passes.
    if (live.frontier < cursor) return undefined;
    const switched = this.#generation !== undefined && live.generation !== this.#generation;
    const scope = { types: live.eventTypes, categories: live.categories };

    const followed = new Set([...this.#byKey.keys(), ...pending.map((entry) => entry.subscriber.key)]);
    // Up to the lowest checkpoint, every event is applied; past it, an event is applied
    // when its own partition's checkpoint has passed it.
    const changed = new Map<string, KeyChanges>();
    const allApplied = () => true;
    if (live.frontier > cursor) {
      await scanLog(tx, { after: cursor, until: live.frontier, ...scope }, (event) => this.#note(event, followed, changed, allApplied));
    }
    // Keys whose rows hold a change above the frontier (inline: committed behind an older
    // appender still open): not exact as of any position the round could push them at.
    let held: ReadonlySet<string> = new Set();
    if (live.inline) {
      const ahead = new Map<string, KeyChanges>();
      const range = { after: live.frontier, until: endOfLog, limit: maxAheadEvents, ...scope };
      // Past the limit, which rows are ahead is not known: the round waits (nothing is
      // stepped over, since the cursor stays).
      if (!(await scanLog(tx, range, (event) => this.#note(event, followed, ahead, allApplied)))) return undefined;
      held = new Set(ahead.keys());
    } else if (live.highest > live.frontier) {
      const ahead = new Map<string, KeyChanges>();
      const inLiveTables = (event: RecordedEvent, partition: number) => event.globalPosition <= (live.checkpoints.get(partition) ?? live.frontier);
      const range = { after: live.frontier, until: live.highest, limit: maxAheadEvents, ...scope };
      // Past the limit (a partition stopped long ago), what lies ahead is not known whole:
      // keys wait for the lowest checkpoint, as if the partitions were one.
      if (await scanLog(tx, range, (event) => this.#note(event, followed, ahead, inLiveTables))) {
        for (const [key, later] of ahead) changed.set(key, { waiting: later.waiting, applied: later.applied ?? changed.get(key)?.applied });
      }
    }

    // What reconnecting subscribers missed before the cursor (changes after it are in `changed`).
    const behind = pending.filter((entry) => entry.subscriber.after !== undefined && entry.subscriber.after < cursor);
    const missed = new Map<string, KeyChanges>();
    let complete = true;
    if (behind.length > 0) {
      const from = behind.reduce((low, entry) => (entry.subscriber.after! < low ? entry.subscriber.after! : low), cursor);
      const keys = new Set(behind.map((entry) => entry.subscriber.key));
      complete = await scanLog(tx, { after: from, until: cursor, limit: maxCatchUpEvents, ...scope }, (event) => this.#note(event, keys, missed, allApplied));
    }

    const keys = new Set([...changed.keys(), ...pending.map((entry) => entry.subscriber.key), ...(switched ? this.#byKey.keys() : [])]);
    const rows = keys.size > 0 ? await this.#source.readRows(tx, [...keys]) : new Map<string, Row>();
    return { frontier: live.frontier, generation: live.generation, switched, changed, held, missed, complete, rows };
  }

  /** Records the event under its row's key, when the key is one of `keys`: applied, or not yet (its partition is behind). */
  #note(event: RecordedEvent, keys: ReadonlySet<string>, into: Map<string, KeyChanges>, applied: (event: RecordedEvent, partition: number) => boolean): void {
    const { projection } = this.#source;
    if (!projection.eventTypes.includes(event.type)) return;
    let key: string | undefined;
    let partition: number;
    try {
      const decoded = projection.decode(event);
      key = this.#source.keyOf(decoded);
      partition = projection.partitionOf(decoded);
    } catch {
      // An event the code cannot read: the projection dead-letters it or stops on it, and
      // either way the row does not change.
      return;
    }
    if (key === undefined || !keys.has(key)) return;
    const changes = into.get(key) ?? {};
    if (applied(event, partition)) changes.applied = event.globalPosition;
    else changes.waiting ??= event.globalPosition;
    into.set(key, changes);
  }

  /** Offers what the round found: synchronously, so no subscriber comes or goes halfway. */
  #publish(found: Found<Row>, pending: readonly Entry<Row>[]): void {
    const { frontier, rows, held } = found;
    this.#cursor = frontier;
    this.#generation = found.generation;
    if (found.switched) {
      // A rebuild switched the live generation: its rows may differ for every key.
      for (const [key, entries] of this.#byKey) {
        if (held.has(key)) continue;
        for (const entry of entries) this.#offer(entry, rows.get(key), exactAt(found.changed.get(key), frontier));
      }
    } else {
      for (const [key, changes] of found.changed) {
        const position = exactChange(changes);
        if (position === undefined || held.has(key)) continue;
        for (const entry of this.#byKey.get(key) ?? []) this.#offer(entry, rows.get(key), position);
      }
    }
    for (const entry of pending) {
      if (!this.#pending.delete(entry)) continue; // gone during the round
      const { key, after } = entry.subscriber;
      let keyed = this.#byKey.get(key);
      if (!keyed) this.#byKey.set(key, (keyed = new Set()));
      keyed.add(entry);
      // Its change above the frontier is pushed to it with the others', once passed.
      if (held.has(key)) continue;
      const row = rows.get(key);
      const changes = found.changed.get(key);
      if (after === undefined) this.#offer(entry, row, exactAt(changes, frontier));
      else {
        const last = exactChange(changes) ?? (found.complete ? found.missed.get(key)?.applied : frontier);
        if (last !== undefined) this.#offer(entry, row, last);
      }
    }
  }

  #offer(entry: Entry<Row>, row: Row | undefined, position: bigint): void {
    if (position <= entry.lastSent) return;
    entry.lastSent = position;
    entry.subscriber.offer(row, position);
  }
}

/** The changes of one key in a range of the log. */
interface KeyChanges {
  /** The last one in the live tables. */
  applied?: bigint;
  /** The first one not yet in them (its partition's checkpoint is behind it). */
  waiting?: bigint;
}

/**
 * The position of the key's last change when its row is exactly as of it: no change of
 * the key below it still waits for its partition. Undefined when there is none, or when
 * the row holds a change past one that waits (a key whose events fall in several
 * partitions): it is pushed once the partition behind catches up.
 */
function exactChange(changes: KeyChanges | undefined): bigint | undefined {
  if (changes?.applied === undefined) return undefined;
  return changes.waiting !== undefined && changes.waiting < changes.applied ? undefined : changes.applied;
}

/** Where the row of a key read now stands: its last change past the frontier, or the frontier. */
function exactAt(changes: KeyChanges | undefined, frontier: bigint): bigint {
  const last = exactChange(changes);
  return last !== undefined && last > frontier ? last : frontier;
}

interface Found<Row> {
  frontier: bigint;
  generation: number;
  switched: boolean;
  /** Keys changed after the cursor: up to the frontier, and past it as far as their partitions have come. */
  changed: Map<string, KeyChanges>;
  /**
   * Keys whose rows hold a change above the frontier (inline): pushed to nobody this round.
   * Each has a change a later round finds, and pushes at, once its frontier passes it.
   */
  held: ReadonlySet<string>;
  /** Keys of reconnecting subscribers changed before the cursor. */
  missed: Map<string, KeyChanges>;
  /** Whether `missed` covers everything after the lowest `after` (false past maxCatchUpEvents). */
  complete: boolean;
  rows: Map<string, Row>;
}
