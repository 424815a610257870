import type { FastifyBaseLogger } from 'fastify';
import { StoreClosedError } from '../../errors.js';
import type { EventStore, RecordedEvent } from '../../event-store/event-store.js';
import { toLogEventNode, type LogEventNode } from '../admin/log-admin.js';
import type { Feed } from './subscription-hub.js';

/**
 * The log's events as they become visible, for the admin subscriptions (streamEvents,
 * categoryEvents): one stream's, or one category's.
 *
 * Each subscriber reads the log itself, from the last position it was sent, with the
 * store's bounded reads (`readAll`): the log's own promise (docs/global-log.md) is that a
 * reader resuming after a position never misses an event below one it has read, so a
 * subscriber that starts from `after` gets every event after it, live ones included, in
 * order, once. It reads only when the client has taken what it was given (mercurius asks
 * for the next value once the last is written to the socket), a page at a time: a client
 * that falls behind, or comes back with an old `after`, is served at its own pace and
 * holds one page at most. Notifications (the hub) wake it when something was appended.
 */

/** Events read per statement; what a subscriber holds at most. */
const pageSize = 100;

export interface LogSubscriptionTarget {
  /** Events of this category (`post` for `post-42`)… */
  category: string;
  /** …and of this stream only, when given (one of the category's). */
  streamId?: string;
}

export interface LogSubscriptionSettings {
  store: EventStore;
  target: LogSubscriptionTarget;
  /** Events after this position. */
  after: bigint;
  log: FastifyBaseLogger;
  /** Maps a failure to what the client reads. */
  failure: (error: unknown) => Error;
  onEnd: () => void;
}

/** One subscriber's reads: the iterator mercurius takes the events from, as the admin schema's `LogEvent`s. */
export class LogSubscription implements AsyncIterableIterator<LogEventNode> {
  readonly #settings: LogSubscriptionSettings;
  #position: bigint;
  #events: RecordedEvent[] = [];
  #ended = false;
  #woken = false;
  #wake: (() => void) | undefined;
  #failure: Error | undefined;
  #failing = false;

  constructor(settings: LogSubscriptionSettings) {
    this.#settings = settings;
    this.#position = settings.after;
  }

  /** Something may have been appended: look again (a hub round, a poll). */
  wake(): void {
    this.#woken = true;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  fail(error: unknown): void {
    this.#failure ??= this.#settings.failure(error);
    this.wake();
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#events = [];
    this.wake();
    this.#settings.onEnd();
  }

  async next(): Promise<IteratorResult<LogEventNode>> {
    for (;;) {
      if (this.#ended) return { value: undefined, done: true };
      if (this.#failure) {
        const failure = this.#failure;
        this.end();
        throw failure;
      }
      const event = this.#events.shift();
      if (event) return { value: toLogEventNode(event), done: false };
      // A wake from here on means "look again", even one that comes while reading.
      this.#woken = false;
      const full = await this.#read();
      if (this.#events.length > 0 || full || this.#ended || this.#failure) continue;
      if (!this.#woken) await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  return(): Promise<IteratorResult<LogEventNode>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<LogEventNode>> {
    this.end();
    return Promise.reject(error as Error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Reads a page after the position; whether it was full (more may follow at once). */
  async #read(): Promise<boolean> {
    const { store, target, log } = this.#settings;
    let page: RecordedEvent[];
    try {
      page = await store.readAll({ after: this.#position, categories: [target.category], limit: pageSize });
      if (this.#failing) log.info({ target }, 'subscriptions: reading the log again');
      this.#failing = false;
    } catch (error) {
      if (error instanceof StoreClosedError) {
        this.fail(error);
        return false;
      }
      // The database away: the next wake (a notification, the hub's poll) tries again.
      if (!this.#failing) log.warn({ err: error, target }, 'subscriptions: reading the log failed; trying again at the next poll');
      this.#failing = true;
      return false;
    }
    if (this.#ended) return false;
    for (const event of page) {
      this.#position = event.globalPosition;
      if (target.streamId === undefined || event.streamId === target.streamId) this.#events.push(event);
    }
    return page.length === pageSize;
  }
}

/** What the hub wakes for the log subscriptions of a store: it reads nothing itself, each subscriber does. */
export class LogWakeFeed implements Feed {
  readonly #subscribers = new Set<LogSubscription>();
  readonly #onEmpty: () => void;

  constructor(onEmpty: () => void) {
    this.#onEmpty = onEmpty;
  }

  get size(): number {
    return this.#subscribers.size;
  }

  add(subscriber: LogSubscription): void {
    this.#subscribers.add(subscriber);
  }

  remove(subscriber: LogSubscription): void {
    if (this.#subscribers.delete(subscriber) && this.#subscribers.size === 0) this.#onEmpty();
  }

  round(): Promise<void> {
    for (const subscriber of this.#subscribers) subscriber.wake();
    return Promise.resolve();
  }

  fail(error: unknown): void {
    for (const subscriber of this.#subscribers) subscriber.fail(error);
  }
}
